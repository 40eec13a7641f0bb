locals {
  managed_policy_attachments = merge([
    for ps_name, ps in var.permission_sets : {
      for arn in ps.managed_policy_arns : "${ps_name}|${arn}" => { permission_set = ps_name, arn = arn }
    }
  ]...)

  customer_managed_attachments = merge([
    for ps_name, ps in var.permission_sets : {
      for ref in ps.customer_managed_policies : "${ps_name}|${ref.path}${ref.name}" => {
        permission_set = ps_name, name = ref.name, path = ref.path
      }
    }
  ]...)

  # Every managed permission set gets a boundary: its own, else the module's. The bridge may
  # rewrite a permission set's inline policy (PutInlinePolicyToPermissionSet writes whole
  # documents), so the boundary is what caps a permission set whose inline policy was rewritten.
  boundaries = { for name, ps in var.permission_sets : name => ps.permissions_boundary != null ? ps.permissions_boundary : var.permissions_boundary }

  # Every permission set gets an inline policy resource, even one with no Terraform statements,
  # so the bridge always finds a policy document to merge into and Terraform never deletes it.
  inline_policies = {
    for name, ps in var.permission_sets : name => coalesce(
      ps.inline_policy,
      jsonencode({ Version = "2012-10-17", Statement = [] })
    )
  }
}

resource "aws_ssoadmin_permission_set" "this" {
  for_each = var.permission_sets

  instance_arn     = var.instance_arn
  name             = each.key
  description      = each.value.description != "" ? each.value.description : null
  session_duration = each.value.session_duration
  relay_state      = each.value.relay_state
  tags             = merge(var.tags, each.value.tags, { "pim-bridge:managed" = "true" })

  lifecycle {
    postcondition {
      condition     = strcontains(self.arn, "/${split("/", var.instance_arn)[1]}/ps-")
      error_message = "The permission set ARN does not belong to the Identity Center instance ${var.instance_arn}."
    }
  }
}

resource "aws_ssoadmin_managed_policy_attachment" "this" {
  for_each = local.managed_policy_attachments

  instance_arn       = var.instance_arn
  permission_set_arn = aws_ssoadmin_permission_set.this[each.value.permission_set].arn
  managed_policy_arn = each.value.arn
}

resource "aws_ssoadmin_customer_managed_policy_attachment" "this" {
  for_each = local.customer_managed_attachments

  instance_arn       = var.instance_arn
  permission_set_arn = aws_ssoadmin_permission_set.this[each.value.permission_set].arn

  customer_managed_policy_reference {
    name = each.value.name
    path = each.value.path
  }
}

resource "aws_ssoadmin_permissions_boundary_attachment" "this" {
  for_each = local.boundaries

  instance_arn       = var.instance_arn
  permission_set_arn = aws_ssoadmin_permission_set.this[each.key].arn

  permissions_boundary {
    managed_policy_arn = each.value.managed_policy_arn

    dynamic "customer_managed_policy_reference" {
      for_each = each.value.customer_managed == null ? [] : [each.value.customer_managed]
      content {
        name = customer_managed_policy_reference.value.name
        path = customer_managed_policy_reference.value.path
      }
    }
  }
}

# The inline policy is shared with the bridge: Terraform writes its statements when the permission
# set is created, and the bridge later merges Deny statements whose Sid starts with
# var.bridge_sid_prefix (preserving every other statement byte for byte). Terraform must not put
# the document back to its own version on every apply, which would drop those Deny statements and
# re-open revoked sessions, so it ignores later differences. See README: "Inline policy ownership".
resource "aws_ssoadmin_permission_set_inline_policy" "this" {
  for_each = local.inline_policies

  instance_arn       = var.instance_arn
  permission_set_arn = aws_ssoadmin_permission_set.this[each.key].arn
  inline_policy      = each.value

  lifecycle {
    ignore_changes = [inline_policy]
  }
}
