variable "identity_store_id" {
  description = "Identity Store id of the Identity Center instance: d- and 10 characters, or a UUID."
  type        = string

  validation {
    condition     = can(regex("^(d-[0-9a-z]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", var.identity_store_id))
    error_message = "identity_store_id must look like d-0123456789 (d- and 10 lower-case letters or digits) or a UUID."
  }
}

variable "groups" {
  description = "Groups the bridge mirrors PIM activations into, keyed by display name, value is the description."
  type        = map(string)

  validation {
    condition     = alltrue([for name in keys(var.groups) : can(regex("^[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P} ]{1,128}$", name)) && trimspace(name) == name])
    error_message = "Group display names are 1-128 printable characters without leading or trailing spaces."
  }

  validation {
    condition     = alltrue([for d in values(var.groups) : length(d) <= 1000])
    error_message = "Group descriptions are at most 1000 characters (Identity Store allows 1024; the bridge-owned mark takes the rest)."
  }
}

variable "mark_bridge_owned" {
  description = "Prefix each description with \"Managed by pim-bridge\" (unless it says so already), which lets a mapping with drift = \"remove\" remove members the bridge did not add. false: the groups are not marked, and such members are only reported."
  type        = bool
  default     = true
}
