output "bridge_config" {
  description = "The [aws] and [[mappings]] parts of pim-bridge.toml; append the other sections."
  value       = "${module.pim_bridge.bridge_config_aws}\n${module.pim_bridge.bridge_config_mappings}"
}

output "bridge_role_arn" {
  description = "ARN of the bridge's IAM role."
  value       = module.pim_bridge.bridge_role_arn
}

output "permission_set_arns" {
  description = "Permission set ARNs keyed by name."
  value       = module.pim_bridge.permission_set_arns
}

output "group_ids" {
  description = "Identity Store ids of the bridge-owned groups."
  value       = module.pim_bridge.group_ids
}
