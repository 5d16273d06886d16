{{/*
Expand the name of the chart.
*/}}
{{- define "sqs-archiver.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "sqs-archiver.fullname" -}}
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
Create chart name and version as used by the chart label.
*/}}
{{- define "sqs-archiver.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "sqs-archiver.labels" -}}
helm.sh/chart: {{ include "sqs-archiver.chart" . }}
{{ include "sqs-archiver.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sqs-archiver
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "sqs-archiver.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sqs-archiver.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "sqs-archiver.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sqs-archiver.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image: repository[:tag][@digest]; the tag defaults to the chart appVersion.
*/}}
{{- define "sqs-archiver.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end }}

{{/*
Required settings, with the message users see when they are missing.
*/}}
{{- define "sqs-archiver.queueUrl" -}}
{{- required "config.sqsQueueUrl is required: the URL of the SQS queue to archive (https://sqs.<region>.amazonaws.com/<account>/<queue>)" .Values.config.sqsQueueUrl -}}
{{- end }}

{{- define "sqs-archiver.bucket" -}}
{{- required "config.s3BucketName is required: the name of the S3 bucket that receives the archives" .Values.config.s3BucketName -}}
{{- end }}

{{/*
AWS region: config.awsRegion, else derived from the queue URL host (sqs.<region>.amazonaws.com).
*/}}
{{- define "sqs-archiver.region" -}}
{{- if .Values.config.awsRegion -}}
{{- .Values.config.awsRegion -}}
{{- else -}}
{{- $host := regexFind "^https?://[^/]+" (include "sqs-archiver.queueUrl" .) -}}
{{- regexFind "[a-z]{2}(-[a-z]+)+-[0-9]+" $host -}}
{{- end -}}
{{- end }}

{{/*
Queue name: the last path segment of the queue URL.
*/}}
{{- define "sqs-archiver.queueName" -}}
{{- include "sqs-archiver.queueUrl" . | splitList "/" | last -}}
{{- end }}

{{/*
PromQL label matcher selecting this release's scrape targets.
*/}}
{{- define "sqs-archiver.promSelector" -}}
namespace="{{ .Release.Namespace }}", job="{{ include "sqs-archiver.fullname" . }}"
{{- end }}
