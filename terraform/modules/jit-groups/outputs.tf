output "group_ids" {
  description = "Identity Store group ids keyed by display name."
  value       = { for name, g in aws_identitystore_group.this : name => g.group_id }
}

output "display_names" {
  description = "Display names of the groups this module manages (the bridge's identity_center_group values)."
  value       = sort(keys(var.groups))
}
