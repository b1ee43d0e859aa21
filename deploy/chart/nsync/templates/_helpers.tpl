{{/*
The chart name, overridable with nameOverride.
*/}}
{{- define "nsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: the release name when it already contains the chart name
(`helm install nsync` gives "nsync"), otherwise <release>-<chart>.
*/}}
{{- define "nsync.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
chart label value: name-version.
*/}}
{{- define "nsync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable across upgrades (a Deployment's selector is immutable).
*/}}
{{- define "nsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "nsync.labels" -}}
helm.sh/chart: {{ include "nsync.chart" . }}
{{ include "nsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: nsync
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The ServiceAccount nsync runs as.
*/}}
{{- define "nsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository plus digest, or tag (default: the chart's appVersion).
*/}}
{{- define "nsync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The container port: the port part of nsync.listen (":8080" -> 8080).
*/}}
{{- define "nsync.port" -}}
{{- .Values.nsync.listen | splitList ":" | last | int }}
{{- end }}

{{/*
PromQL label matchers that select this release's series.
*/}}
{{- define "nsync.metricSelector" -}}
{{- if .Values.prometheusRule.selector }}
{{- .Values.prometheusRule.selector }}
{{- else }}
{{- printf "job=%q,namespace=%q" (include "nsync.fullname" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
Fails rendering on combinations the schema cannot express.
*/}}
{{- define "nsync.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.nsync.leaderElect) }}
{{- fail "replicas > 1 needs nsync.leaderElect=true: without a leader every pod would write" }}
{{- end }}
{{- end }}
