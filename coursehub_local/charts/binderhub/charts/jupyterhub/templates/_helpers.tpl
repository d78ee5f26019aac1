{{- /*
  Labels as in the real chart's templates/_helpers.tpl: selection by
  component, app and release; chart and heritage besides. Call with
  (dict "root" $ "component" "hub").
*/}}
{{- define "jupyterhub.matchLabels" -}}
component: {{ .component }}
app: {{ .root.Values.nameOverride | default .root.Chart.Name | trunc 63 | trimSuffix "-" }}
release: {{ .root.Release.Name }}
{{- end }}

{{- define "jupyterhub.labels" -}}
{{ include "jupyterhub.matchLabels" . }}
chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version | replace "+" "_" }}
heritage: {{ .root.Release.Service }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/name: {{ .root.Values.nameOverride | default .root.Chart.Name | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version | replace "+" "_" }}
{{- end }}

{{- /* The HTTPS modes proxy-public serves, as in the real templates/proxy/service.yaml. */}}
{{- define "jupyterhub.https" -}}
{{- $https := .Values.proxy.https }}
{{- $enabled := $https.enabled }}
{{- $autoHTTPS := and $enabled (and (eq $https.type "letsencrypt") $https.hosts) }}
{{- $manualHTTPS := and $enabled (eq $https.type "manual") }}
{{- $secretHTTPS := and $enabled (eq $https.type "secret") }}
{{- $offloadHTTPS := and $enabled (eq $https.type "offload") }}
{{- $valid := or $autoHTTPS $manualHTTPS $secretHTTPS $offloadHTTPS }}
{{- toYaml (dict "https" (and $enabled $valid | toString) "offload" ($offloadHTTPS | toString) "auto" ($autoHTTPS | empty | not | toString)) }}
{{- end }}
