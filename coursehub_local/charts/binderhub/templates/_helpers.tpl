{{- /*
  Labels as in the real chart (templates/deployment.yaml and
  templates/_helpers.tpl of jupyterhub/binderhub).
*/}}
{{- define "binderhub.matchLabels" -}}
app: binder
component: {{ .component | default "binder" }}
release: {{ .root.Release.Name }}
{{- end }}

{{- define "binderhub.labels" -}}
{{ include "binderhub.matchLabels" . }}
heritage: {{ .root.Release.Service }}
chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version | replace "+" "_" }}
{{- end }}

{{- /*
  Docker client config.json with the registry credentials, as the real
  chart's "buildDockerConfig" renders it: DockerHub's auth URL unless
  registry.url says otherwise, username "<token>" (or "_json_key" for gcr.io)
  when none is given.
*/}}
{{- define "binderhub.buildDockerConfig" -}}
{{- $url := .Values.registry.url | default "https://index.docker.io/v1" }}
{{- $username := .Values.registry.username }}
{{- if not $username }}
{{- $username = ternary "_json_key" "<token>" (eq $url "https://gcr.io") }}
{{- end }}
{{- $auth := printf "%s:%s" $username (.Values.registry.password | default "") | b64enc }}
{{- $dockerConfig := dict "auths" (dict $url (dict "auth" $auth)) }}
{{- with .Values.config.BinderHub.buildDockerConfig }}
{{- $dockerConfig = merge $dockerConfig . }}
{{- end }}
{{- $dockerConfig | toPrettyJson }}
{{- end }}

{{- /*
  The secret traits of config, which the real chart moves out of the
  binder-config ConfigMap into the binder-secret Secret: every 'pick' here
  has a matching 'omit' in configmap.yaml.
*/}}
{{- define "binderhub.secretConfig" -}}
{{- $secret := dict }}
{{- with .Values.config.GitHubRepoProvider }}
{{- $_ := set $secret "GitHubRepoProvider" (pick . "client_id" "client_secret" "access_token") }}
{{- end }}
{{- with .Values.config.GitLabRepoProvider }}
{{- $_ := set $secret "GitLabRepoProvider" (pick . "access_token" "private_token") }}
{{- end }}
{{- dict "config" $secret | toYaml }}
{{- end }}
