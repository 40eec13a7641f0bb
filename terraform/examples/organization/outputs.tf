output "bridge_config" {
  description = "The [aws] and [[mappings]] parts of pim-bridge.toml; append the other sections."
  value       = "${module.pim_bridge.bridge_config_aws}\n${module.pim_bridge.bridge_config_mappings}"
}

output "bridge_role_arn" {
  description = "ARN of the bridge's IAM role (annotate the service account with it)."
  value       = module.pim_bridge.bridge_role_arn
}

output "bridge_granted_actions" {
  description = "Every action the bridge's role grants."
  value       = module.pim_bridge.bridge_granted_actions
}
