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
PromQL label matchers selecting this release's archiver series. A ServiceMonitor sets job to the Service name (or
prometheusRule.jobLabel, which it relabels to); annotation-based scraping sets whatever job name the Prometheus config
uses (kubernetes-pods, ...), so without a ServiceMonitor and without prometheusRule.jobLabel there is no job matcher
(it would select a job that never exists). The release's pod names select it in every case. absent() takes the same selector: it fires when no series of this release match (the pod regex
included, so another release's pods in the namespace do not keep it quiet); its alert carries only the equality
matchers' labels (namespace, job).
*/}}
{{- define "sqs-archiver.promSelector" -}}
{{- $job := .Values.prometheusRule.jobLabel | default (ternary (include "sqs-archiver.fullname" .) "" .Values.serviceMonitor.enabled) -}}
{{- /* The pod regex is kept with a job too: two releases sharing a jobLabel in one namespace stay apart. */ -}}
namespace="{{ .Release.Namespace }}"{{ if $job }}, job="{{ $job }}"{{ end }}, pod=~"{{ include "sqs-archiver.fullname" . }}-[a-z0-9]+-[a-z0-9]+"
{{- end }}

{{- define "sqs-archiver.absentSelector" -}}
{{- include "sqs-archiver.promSelector" . -}}
{{- end }}

{{/*
Most replicas that can run at once: KEDA's maximum, else replicaCount.
*/}}
{{- define "sqs-archiver.maxReplicas" -}}
{{- if .Values.keda.enabled -}}{{ .Values.keda.maxReplicaCount }}{{- else -}}{{ .Values.replicaCount }}{{- end -}}
{{- end }}

{{/*
Messages one pod may hold in flight (received, not yet deleted): in ndjson mode the open batch and the one being
written, 2 x batchMaxMessages (src/service.ts); in message mode each receive loop's batch.
*/}}
{{- define "sqs-archiver.inFlightPerPod" -}}
{{- if eq .Values.config.archiveFormat "ndjson" -}}
{{- mul 2 .Values.config.batchMaxMessages -}}
{{- else -}}
{{- mul .Values.config.concurrency .Values.config.maxMessagesPerPoll -}}
{{- end -}}
{{- end }}

{{/*
KEDA scaleOnInFlight: null chooses per mode. In ndjson mode buffered messages are in flight for up to
batchMaxSeconds by design; counting them makes a healthy pod look like backlog and KEDA scale to the maximum.
*/}}
{{- define "sqs-archiver.kedaScaleOnInFlight" -}}
{{- if kindIs "invalid" .Values.keda.scaleOnInFlight -}}
{{- ne .Values.config.archiveFormat "ndjson" -}}
{{- else -}}
{{- .Values.keda.scaleOnInFlight -}}
{{- end -}}
{{- end }}

{{/*
Container resources; a null memory request takes the measured RSS plateau of the archive format (bench/RESULTS.md:
message mode 207-215 MB, ndjson 272-282 MB, which holds up to 2 x batchMaxMessages messages).
*/}}
{{- define "sqs-archiver.resources" -}}
{{- $r := deepCopy .Values.resources -}}
{{- $requests := $r.requests | default dict -}}
{{- if not $requests.memory -}}
{{- $_ := set $requests "memory" (ternary "320Mi" "256Mi" (eq .Values.config.archiveFormat "ndjson")) -}}
{{- end -}}
{{- $_ := set $r "requests" $requests -}}
{{- toYaml $r -}}
{{- end }}

{{/*
KEDA fallback replicas: null means minReplicaCount, at least one.
*/}}
{{- define "sqs-archiver.kedaFallbackReplicas" -}}
{{- if kindIs "invalid" .Values.keda.fallback.replicas -}}
{{- max 1 (int .Values.keda.minReplicaCount) -}}
{{- else -}}
{{- .Values.keda.fallback.replicas -}}
{{- end -}}
{{- end }}

{{/*
Render-time guards for settings the service would refuse (exit 78) or that break the pod's lifecycle.
*/}}
{{- define "sqs-archiver.validate" -}}
{{- $c := .Values.config -}}
{{- /* SIGTERM: the in-flight long poll (waitTimeSeconds) and the drain (shutdownTimeoutSeconds), which in ndjson mode
       includes flushing the open batches, must both fit in the grace period. */ -}}
{{- $minGrace := add $c.waitTimeSeconds $c.shutdownTimeoutSeconds 5 -}}
{{- if lt (int .Values.terminationGracePeriodSeconds) (int $minGrace) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be at least config.waitTimeSeconds + config.shutdownTimeoutSeconds + 5 (%v) so the pod can finish its long poll and drain" .Values.terminationGracePeriodSeconds $minGrace) -}}
{{- end -}}
{{- if eq $c.archiveFormat "ndjson" -}}
{{- /* The final flush of the open batches is one PutObject per batch: give it at least one full attempt. */ -}}
{{- if lt (int $c.shutdownTimeoutSeconds) (int $c.s3RequestTimeoutSeconds) -}}
{{- fail (printf "with config.archiveFormat ndjson, config.shutdownTimeoutSeconds (%v) must be at least config.s3RequestTimeoutSeconds (%v): on SIGTERM the open batches are flushed, one PutObject each, within the drain budget" $c.shutdownTimeoutSeconds $c.s3RequestTimeoutSeconds) -}}
{{- end -}}
{{- /* Same rule as src/config.ts: a batch's messages must stay invisible until its object is written. */ -}}
{{- $minVisibility := add $c.batchMaxSeconds (mul 4 $c.s3RequestTimeoutSeconds) -}}
{{- if and (not (kindIs "invalid" $c.visibilityTimeoutSeconds)) (le (int $c.visibilityTimeoutSeconds) (int $minVisibility)) -}}
{{- fail (printf "with config.archiveFormat ndjson, config.visibilityTimeoutSeconds (%v) must be more than config.batchMaxSeconds + 4 x config.s3RequestTimeoutSeconds (%v), or null to let the service use %v" $c.visibilityTimeoutSeconds $minVisibility (add $minVisibility 30)) -}}
{{- end -}}
{{- end -}}
{{- /* Same rule as src/config.ts minShutdownSeconds: the long polls open at SIGTERM must return by themselves before the
       stop stops waiting for them, min(5 s, a quarter of the budget) before its end. */ -}}
{{- $shutdown := int $c.shutdownTimeoutSeconds -}}
{{- if lt (sub $shutdown (min 5 (div (add $shutdown 3) 4))) (int $c.waitTimeSeconds) -}}
{{- fail (printf "config.shutdownTimeoutSeconds (%v) must leave config.waitTimeSeconds (%v) plus min(5, shutdownTimeoutSeconds/4) for the long polls open at SIGTERM to return (the service refuses it with exit 78)" $c.shutdownTimeoutSeconds $c.waitTimeSeconds) -}}
{{- end -}}
{{- if and $c.s3KmsKeyId (ne $c.s3Sse "aws:kms") -}}
{{- fail "config.s3KmsKeyId is only allowed with config.s3Sse: aws:kms" -}}
{{- end -}}
{{- /* SQS refuses receives beyond ~120,000 in-flight messages per queue: every pod would stall, none would flush. */ -}}
{{- $inFlight := mul (int (include "sqs-archiver.maxReplicas" .)) (int (include "sqs-archiver.inFlightPerPod" .)) -}}
{{- if ge (int64 $inFlight) 120000 -}}
{{- fail (printf "%s replicas x %s in-flight messages per pod (%s) = %d reaches SQS's limit of about 120,000 in-flight messages per queue: lower %s or %s" (include "sqs-archiver.maxReplicas" .) (include "sqs-archiver.inFlightPerPod" .) (ternary "2 x config.batchMaxMessages" "config.concurrency x config.maxMessagesPerPoll" (eq $c.archiveFormat "ndjson")) $inFlight (ternary "keda.maxReplicaCount" "replicaCount" .Values.keda.enabled) (ternary "config.batchMaxMessages" "config.concurrency" (eq $c.archiveFormat "ndjson"))) -}}
{{- end -}}
{{- if .Values.keda.enabled -}}
{{- if gt (int .Values.keda.minReplicaCount) (int .Values.keda.maxReplicaCount) -}}
{{- fail (printf "keda.minReplicaCount (%v) must not exceed keda.maxReplicaCount (%v)" .Values.keda.minReplicaCount .Values.keda.maxReplicaCount) -}}
{{- end -}}
{{- if gt (int (include "sqs-archiver.kedaFallbackReplicas" .)) (int .Values.keda.maxReplicaCount) -}}
{{- fail (printf "keda.fallback.replicas (%v) must not exceed keda.maxReplicaCount (%v)" (include "sqs-archiver.kedaFallbackReplicas" .) .Values.keda.maxReplicaCount) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.keda.enabled (eq .Values.keda.identityOwner "workload") -}}
{{- if .Values.keda.roleArn -}}
{{- fail "keda.roleArn and keda.identityOwner workload are mutually exclusive in KEDA: use identityOwner operator with roleArn" -}}
{{- end -}}
{{- if not .Values.serviceAccount.roleArn -}}
{{- fail "keda.identityOwner workload makes KEDA assume the archiver's IRSA role (serviceAccount.roleArn), which is empty: under EKS Pod Identity KEDA would fail to read the queue. Use keda.identityOwner operator (the KEDA operator's own role, or keda.roleArn)" -}}
{{- end -}}
{{- end -}}
{{- end }}
