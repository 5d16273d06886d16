{{/*
The compaction CronJob's ServiceAccount (its own, for its own least-privilege role: iam/policy-compact.json).
*/}}
{{- define "sqs-archiver.compactionServiceAccountName" -}}
{{- if .Values.compaction.serviceAccount.create }}
{{- default (printf "%s-compact" (include "sqs-archiver.fullname" .)) .Values.compaction.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.compaction.serviceAccount.name }}
{{- end }}
{{- end }}
