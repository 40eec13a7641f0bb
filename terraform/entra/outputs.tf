output "group_ids" {
  description = "Object ids of the PIM-enabled groups keyed by short name: the mappings' entra_group_id."
  value       = { for k, g in azuread_group.this : k => g.object_id }
}
