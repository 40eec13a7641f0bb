locals {
  # The bridge removes members it did not add (a mapping's drift = "remove") only from groups
  # whose description carries this mark; these groups are the bridge's, so they carry it.
  owned_mark = "Managed by pim-bridge"
  descriptions = {
    for name, text in var.groups : name => (
      !var.mark_bridge_owned ? text :
      strcontains(lower(text), lower(local.owned_mark)) ? text :
      trimspace("${local.owned_mark}. ${text}")
    )
  }
}

# Groups the bridge owns. They are created here, outside the scope of SCIM provisioning, so a slow
# SCIM export cannot re-add a member the bridge has just removed.
resource "aws_identitystore_group" "this" {
  for_each = var.groups

  identity_store_id = var.identity_store_id
  display_name      = each.key
  description       = local.descriptions[each.key] != "" ? local.descriptions[each.key] : null

  lifecycle {
    postcondition {
      condition     = self.group_id != ""
      error_message = "Identity Center returned no group id for ${each.key}; check identity_store_id."
    }
  }
}
