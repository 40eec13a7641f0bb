data "aws_ssoadmin_instances" "this" {
  lifecycle {
    postcondition {
      condition     = length(self.arns) > 0
      error_message = "No IAM Identity Center instance is visible to these credentials; enable Identity Center or use the management or delegated administrator account."
    }
    postcondition {
      condition     = var.instance_arn == "" || contains(self.arns, var.instance_arn)
      error_message = "The Identity Center instance ${var.instance_arn} does not exist in this account and region."
    }
  }
}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  instance_arn      = var.instance_arn != "" ? var.instance_arn : data.aws_ssoadmin_instances.this.arns[0]
  instance_index    = try(index(data.aws_ssoadmin_instances.this.arns, local.instance_arn), 0)
  identity_store_id = var.identity_store_id != "" ? var.identity_store_id : data.aws_ssoadmin_instances.this.identity_store_ids[local.instance_index]

  groups = {
    for m in var.mappings : m.identity_center_group => m.group_description...
    if m.identity_center_group != null
  }

  group_assignments = flatten([
    for m in var.mappings : [
      for a in m.group_assignments : {
        group          = m.identity_center_group
        account_id     = a.account_id
        permission_set = a.permission_set
      }
    ]
  ])

  user_assignments = flatten([for m in var.mappings : m.user_assignments])

  external_permission_sets = toset([
    for a in concat(local.group_assignments, local.user_assignments) : a.permission_set
    if !contains(keys(var.permission_sets), a.permission_set)
  ])

  permission_set_arns = merge(
    { for name, ps in data.aws_ssoadmin_permission_set.existing : name => ps.arn },
    module.permission_sets.arns,
  )
}

data "aws_ssoadmin_permission_set" "existing" {
  for_each = local.external_permission_sets

  instance_arn = local.instance_arn
  name         = each.key

  lifecycle {
    postcondition {
      condition     = self.arn != null && strcontains(coalesce(self.arn, "-"), "/${split("/", local.instance_arn)[1]}/ps-")
      error_message = "Permission set ${each.key} (existing_permission_sets) was not found in the Identity Center instance."
    }
  }
}

module "permission_sets" {
  source = "../permission-sets"

  instance_arn          = local.instance_arn
  permission_sets       = var.permission_sets
  permissions_boundary  = var.permissions_boundary
  bridge_sid_prefix     = var.bridge_sid_prefix
  bridge_policy_reserve = var.bridge_policy_reserve
  tags                  = var.tags
}

module "jit_groups" {
  source = "../jit-groups"

  identity_store_id = local.identity_store_id
  # Several mappings (e.g. member and owner of one Entra group) may share a group; the first
  # non-empty description wins.
  groups = { for name, descriptions in local.groups : name => try([for d in descriptions : d if d != ""][0], "") }
}

module "assignments" {
  source = "../assignments"

  instance_arn        = local.instance_arn
  group_ids           = module.jit_groups.group_ids
  permission_set_arns = local.permission_set_arns
  assignments         = local.group_assignments
}

module "bridge_iam" {
  source = "../bridge-iam"
  count  = var.bridge_role == null ? 0 : 1

  name                      = var.bridge_role.name
  path                      = var.bridge_role.path
  instance_arn              = local.instance_arn
  identity_store_id         = local.identity_store_id
  identity_store_account_id = data.aws_caller_identity.current.account_id
  managed_group_ids         = values(module.jit_groups.group_ids)
  assignment_permission_set_arns = [
    for a in local.user_assignments : local.permission_set_arns[a.permission_set]
  ]
  denial_permission_set_arns = [
    for a in concat(local.group_assignments, local.user_assignments) : local.permission_set_arns[a.permission_set]
  ]
  account_ids                = distinct([for a in concat(local.group_assignments, local.user_assignments) : a.account_id])
  compute                    = var.bridge_role.compute
  eks_oidc_provider_arn      = var.bridge_role.eks_oidc_provider_arn
  eks_service_account        = var.bridge_role.eks_service_account
  trusted_source_account_id  = var.bridge_role.trusted_source_account_id
  assume_role_arns           = var.bridge_role.assume_role_arns
  scp_policy_arn             = var.bridge_role.scp_policy_arn
  permissions_boundary_arn   = var.bridge_role.permissions_boundary_arn
  activity_trail_bucket      = var.bridge_role.activity_trail_bucket
  activity_trail_key_prefix  = var.bridge_role.activity_trail_key_prefix
  activity_trail_kms_key_arn = var.bridge_role.activity_trail_kms_key_arn
  tags                       = var.tags
}

module "alarms" {
  source = "../alarms"
  count  = length(var.alarms) == 0 ? 0 : 1

  namespace     = var.alarm_namespace
  alarms        = var.alarms
  alarm_actions = var.alarm_actions
  tags          = var.tags
}
