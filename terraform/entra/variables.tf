variable "groups" {
  description = "PIM-enabled groups to create, keyed by a short name; eligible_principal_ids become eligible members."
  type = map(object({
    display_name           = string
    description            = optional(string, "")
    eligible_principal_ids = optional(list(string), [])
    eligibility_duration   = optional(string, "P365D")
    max_activation         = optional(string, "PT1H")
    require_justification  = optional(bool, true)
    require_ticket_info    = optional(bool, false)
    require_approval       = optional(bool, false)
    approver_object_ids    = optional(list(string), [])
  }))

  validation {
    condition     = alltrue([for g in values(var.groups) : can(regex("^PT([1-9]|1[0-9]|2[0-4])H$", g.max_activation))])
    error_message = "max_activation must be PT1H to PT24H (whole hours), the PIM for Groups limit."
  }

  validation {
    condition     = alltrue([for g in values(var.groups) : !g.require_approval || length(g.approver_object_ids) > 0])
    error_message = "require_approval needs approver_object_ids."
  }
}

variable "owners" {
  description = "Object ids of the groups' owners (the identity running Terraform is usually one)."
  type        = list(string)
  default     = []
}
