{{/*
Operator tool Jobs run the image's CLI (node dist/cli/cli.js <tool> ...): replay today; compaction and verification
Jobs/CronJobs reuse these helpers. Each tool gets its own ServiceAccount (its own IAM role: iam/policy-replay.json for
replay, never the archiver's), the archiver's restricted security contexts, the same image, and optionally a
PersistentVolumeClaim for state that must survive a retried pod (replay's --checkpoint).

Every helper takes a dict:
  root    the chart's top-level context ($)
  tool    the tool's name (replay, compact, verify): names, labels, the CLI subcommand
  values  the tool's values block, with: serviceAccount {create, name, roleArn, annotations}, resources,
          checkpoint {enabled, size, storageClassName, existingClaim}, backoffLimit, activeDeadlineSeconds,
          ttlSecondsAfterFinished, podAnnotations
  args    (podSpec/job only) the CLI arguments after the subcommand

Tool pods carry app.kubernetes.io/instance but not app.kubernetes.io/name: neither the archiver's Service, its
PodDisruptionBudget nor its NetworkPolicy select them, and KEDA never counts them. A CronJob uses "tool.podSpec"
inside its jobTemplate.
*/}}

{{- define "sqs-archiver.tool.fullname" -}}
{{- printf "%s-%s" (include "sqs-archiver.fullname" .root) .tool | trunc 52 | trimSuffix "-" -}}
{{- end }}

{{- define "sqs-archiver.tool.labels" -}}
helm.sh/chart: {{ include "sqs-archiver.chart" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .root.Chart.AppVersion }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: sqs-archiver
app.kubernetes.io/component: {{ .tool }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "sqs-archiver.tool.serviceAccountName" -}}
{{- if .values.serviceAccount.create -}}
{{- default (include "sqs-archiver.tool.fullname" .) .values.serviceAccount.name -}}
{{- else -}}
{{- required (printf "%s.serviceAccount.name is required when %s.serviceAccount.create is false (the tool never runs as the archiver's ServiceAccount)" .tool .tool) .values.serviceAccount.name -}}
{{- end -}}
{{- end }}

{{- define "sqs-archiver.tool.checkpointClaimName" -}}
{{- .values.checkpoint.existingClaim | default (printf "%s-state" (include "sqs-archiver.tool.fullname" .)) -}}
{{- end }}

{{/* The tool's ServiceAccount (when created), with its own IRSA role. */}}
{{- define "sqs-archiver.tool.serviceAccount" -}}
{{- if .values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "sqs-archiver.tool.serviceAccountName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "sqs-archiver.tool.labels" . | nindent 4 }}
  {{- if or .values.serviceAccount.roleArn .values.serviceAccount.annotations }}
  annotations:
    {{- with .values.serviceAccount.roleArn }}
    eks.amazonaws.com/role-arn: {{ . | quote }}
    eks.amazonaws.com/sts-regional-endpoints: "true"
    {{- end }}
    {{- with .values.serviceAccount.annotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end }}

{{/* The PVC for the tool's state (created unless checkpoint.existingClaim names one), kept on uninstall. */}}
{{- define "sqs-archiver.tool.checkpointClaim" -}}
{{- if and .values.checkpoint.enabled (not .values.checkpoint.existingClaim) }}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "sqs-archiver.tool.checkpointClaimName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "sqs-archiver.tool.labels" . | nindent 4 }}
  annotations:
    # A checkpoint outlives the release that wrote it: resuming needs it.
    helm.sh/resource-policy: keep
spec:
  accessModes:
    - ReadWriteOnce
  {{- with .values.checkpoint.storageClassName }}
  storageClassName: {{ . | quote }}
  {{- end }}
  resources:
    requests:
      storage: {{ .values.checkpoint.size }}
{{- end }}
{{- end }}

{{/* Pod spec of a tool run: restricted, the image's CLI, the archiver's bucket settings as environment. */}}
{{- define "sqs-archiver.tool.podSpec" -}}
{{- $root := .root -}}
restartPolicy: Never
serviceAccountName: {{ include "sqs-archiver.tool.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
containers:
  - name: {{ .tool }}
    image: {{ include "sqs-archiver.image" $root | quote }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    command: ["node", "dist/cli/cli.js", {{ .tool | quote }}]
    args:
      {{- toYaml .args | nindent 6 }}
    env:
      - name: S3_BUCKET_NAME
        value: {{ include "sqs-archiver.bucket" $root | quote }}
      - name: S3_PREFIX
        value: {{ $root.Values.config.s3Prefix | quote }}
      {{- with $root.Values.config.awsRegion }}
      - name: AWS_REGION
        value: {{ . | quote }}
      {{- end }}
      {{- with $root.Values.config.s3Region }}
      - name: S3_REGION
        value: {{ . | quote }}
      {{- end }}
      - name: S3_FORCE_PATH_STYLE
        value: {{ $root.Values.config.s3ForcePathStyle | quote }}
      - name: LOG_LEVEL
        value: {{ $root.Values.config.logLevel | quote }}
      {{- with $root.Values.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- with $root.Values.extraEnvFrom }}
    envFrom:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    resources:
      {{- toYaml .values.resources | nindent 6 }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- if .values.checkpoint.enabled }}
      - name: state
        mountPath: /var/lib/sqs-archiver
      {{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $root.Values.tmpVolumeSizeLimit }}
  {{- if .values.checkpoint.enabled }}
  - name: state
    persistentVolumeClaim:
      claimName: {{ include "sqs-archiver.tool.checkpointClaimName" . }}
  {{- end }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
A one-off Job. Jobs are immutable, so its name carries a hash of its arguments: changed arguments make a new Job,
an unchanged upgrade keeps the one that ran.
*/}}
{{- define "sqs-archiver.tool.job" -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "%s-%s" (include "sqs-archiver.tool.fullname" .) (toJson .args | sha256sum | trunc 8) }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "sqs-archiver.tool.labels" . | nindent 4 }}
spec:
  backoffLimit: {{ .values.backoffLimit }}
  {{- with .values.activeDeadlineSeconds }}
  activeDeadlineSeconds: {{ . }}
  {{- end }}
  {{- if not (kindIs "invalid" .values.ttlSecondsAfterFinished) }}
  ttlSecondsAfterFinished: {{ .values.ttlSecondsAfterFinished }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "sqs-archiver.tool.labels" . | nindent 8 }}
      {{- with .values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      {{- include "sqs-archiver.tool.podSpec" . | nindent 6 }}
{{- end }}
