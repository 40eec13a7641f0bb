output "assignment_ids" {
  description = "Account assignment resource ids keyed by \"group|account_id|permission_set\"."
  value       = { for k, a in aws_ssoadmin_account_assignment.this : k => a.id }
}

output "permission_set_arns" {
  description = "Every permission set ARN the assignments use, keyed by name (managed here or looked up)."
  value       = local.permission_set_arns
}

output "account_ids" {
  description = "Distinct account ids that receive assignments."
  value       = sort(distinct([for a in var.assignments : a.account_id]))
}
