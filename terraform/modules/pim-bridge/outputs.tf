output "bridge_config_mappings" {
  description = "The [[mappings]] blocks of pim-bridge.toml, rendered from var.mappings."
  value       = local.mappings_toml
}

output "bridge_config_aws" {
  description = "The [aws] section of pim-bridge.toml (region, identity store, instance)."
  value       = local.aws_toml
}

output "instance_arn" {
  description = "Identity Center instance ARN in use."
  value       = local.instance_arn
}

output "identity_store_id" {
  description = "Identity Store id in use."
  value       = local.identity_store_id
}

output "permission_set_arns" {
  description = "ARNs of every permission set the mappings use (managed here or existing), keyed by name."
  value       = local.permission_set_arns
}

output "group_ids" {
  description = "Identity Store ids of the groups created for the mappings, keyed by display name."
  value       = module.jit_groups.group_ids
}

output "bridge_role_arn" {
  description = "ARN of the bridge's IAM role, or null when bridge_role is null."
  value       = try(module.bridge_iam[0].role_arn, null)
}

output "bridge_granted_actions" {
  description = "Every action the bridge's role grants."
  value       = try(module.bridge_iam[0].granted_actions, [])
}
