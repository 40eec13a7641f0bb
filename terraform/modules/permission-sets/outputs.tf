output "arns" {
  description = "Permission set ARNs keyed by name."
  value       = { for name, ps in aws_ssoadmin_permission_set.this : name => ps.arn }
}

output "names" {
  description = "Names of the permission sets this module manages."
  value       = sort(keys(var.permission_sets))
}

output "session_durations" {
  description = "Session duration of each permission set, keyed by name (the bridge prunes its Deny statements older than this)."
  value       = { for name, ps in var.permission_sets : name => ps.session_duration }
}

output "inline_policy_baselines" {
  description = "The inline policy document Terraform wrote at creation, keyed by permission set name (the bridge adds its statements to it)."
  value       = local.inline_policies
}

output "permissions_boundaries" {
  description = "The permissions boundary attached to each permission set, keyed by name: its own, else the module's permissions_boundary."
  value       = local.boundaries
}
