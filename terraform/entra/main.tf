resource "azuread_group" "this" {
  for_each = var.groups

  display_name       = each.value.display_name
  description        = each.value.description
  security_enabled   = true
  assignable_to_role = false
  owners             = var.owners
}

resource "azuread_group_role_management_policy" "member" {
  for_each = var.groups

  group_id = azuread_group.this[each.key].object_id
  role_id  = "member"

  activation_rules {
    maximum_duration                   = each.value.max_activation
    require_justification              = each.value.require_justification
    require_ticket_info                = each.value.require_ticket_info
    require_approval                   = each.value.require_approval
    require_multifactor_authentication = true

    dynamic "approval_stage" {
      for_each = each.value.require_approval ? [1] : []
      content {
        dynamic "primary_approver" {
          for_each = each.value.approver_object_ids
          content {
            object_id = primary_approver.value
            type      = "singleUser"
          }
        }
      }
    }
  }
}

resource "azuread_privileged_access_group_eligibility_schedule" "this" {
  for_each = merge([
    for key, g in var.groups : {
      for p in g.eligible_principal_ids : "${key}|${p}" => { group = key, principal = p, duration = g.eligibility_duration }
    }
  ]...)

  group_id        = azuread_group.this[each.value.group].object_id
  principal_id    = each.value.principal
  assignment_type = "member"
  duration        = each.value.duration
  justification   = "Eligible for just-in-time AWS access through pim-bridge."

  depends_on = [azuread_group_role_management_policy.member]
}
