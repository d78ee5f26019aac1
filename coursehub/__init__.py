"""CourseHub tooling that is not shipped to Lambda: the command line and packaging."""
