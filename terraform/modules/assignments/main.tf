locals {
  # Grouped so a duplicate reaches the validation message instead of a duplicate-key error.
  assignments = { for k, v in { for a in var.assignments : "${a.group}|${a.account_id}|${a.permission_set}" => a... } : k => v[0] }

  # Permission sets not managed in this configuration are resolved by name in the instance.
  external_permission_sets = toset([
    for a in var.assignments : a.permission_set if !contains(keys(var.permission_set_arns), a.permission_set)
  ])

  permission_set_arns = merge(
    { for name, ps in data.aws_ssoadmin_permission_set.external : name => ps.arn },
    var.permission_set_arns,
  )
}

data "aws_ssoadmin_permission_set" "external" {
  for_each = local.external_permission_sets

  instance_arn = var.instance_arn
  name         = each.key

  lifecycle {
    postcondition {
      condition     = self.arn != null && strcontains(coalesce(self.arn, "-"), "/${split("/", var.instance_arn)[1]}/ps-")
      error_message = "Permission set ${each.key} was not found in ${var.instance_arn}; create it (permission-sets module) or fix the name."
    }
  }
}

resource "aws_ssoadmin_account_assignment" "this" {
  for_each = local.assignments

  instance_arn       = var.instance_arn
  permission_set_arn = local.permission_set_arns[each.value.permission_set]
  principal_id       = lookup(var.group_ids, each.value.group, "")
  principal_type     = "GROUP"
  target_id          = each.value.account_id
  target_type        = "AWS_ACCOUNT"

  lifecycle {
    precondition {
      condition     = contains(keys(var.group_ids), each.value.group)
      error_message = "Group ${each.value.group} is not in group_ids; add it to the jit-groups module."
    }
  }
}
