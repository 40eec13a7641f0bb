output "role_arn" {
  description = "ARN of the bridge's role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the bridge's role."
  value       = aws_iam_role.this.name
}

output "instance_profile_name" {
  description = "Instance profile name (compute = ec2), else null."
  value       = one(aws_iam_instance_profile.this[*].name)
}

output "policy_json" {
  description = "The role's permission policy document."
  value       = local.policy_json
}

output "trust_policy_json" {
  description = "The role's trust policy document."
  value       = local.trust_policy_json
}

output "granted_actions" {
  description = "Sorted list of every action the role grants."
  value       = sort(distinct(flatten([for s in local.statements : s.Action if s.Effect == "Allow"])))
}

output "denied_actions" {
  description = "Sorted list of every action the role is explicitly denied (policy and boundary changes to permission sets)."
  value       = sort(distinct(flatten([for s in local.statements : s.Action if s.Effect == "Deny"])))
}
