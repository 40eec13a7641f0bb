output "alarm_arns" {
  description = "Alarm ARNs keyed by the alarms map key."
  value       = { for k, a in aws_cloudwatch_metric_alarm.this : k => a.arn }
}
