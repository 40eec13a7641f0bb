# Groups the bridge owns. They are created here, outside the scope of SCIM provisioning, so a slow
# SCIM export cannot re-add a member the bridge has just removed.
resource "aws_identitystore_group" "this" {
  for_each = var.groups

  identity_store_id = var.identity_store_id
  display_name      = each.key
  description       = each.value != "" ? each.value : null

  lifecycle {
    postcondition {
      condition     = self.group_id != ""
      error_message = "Identity Center returned no group id for ${each.key}; check identity_store_id."
    }
  }
}
