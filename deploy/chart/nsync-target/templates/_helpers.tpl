{{/*
The name of every object: the release name, or fullnameOverride. Not <release>-<chart>: the
ServiceAccount's name is what the operator writes into the registration and its user name in
audit logs, so it stays the one the operator chose.
*/}}
{{- define "nsync-target.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 43 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "nsync-target.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nsync
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount every binding names.
*/}}
{{- define "nsync-target.subject" -}}
- kind: ServiceAccount
  name: {{ include "nsync-target.fullname" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}
