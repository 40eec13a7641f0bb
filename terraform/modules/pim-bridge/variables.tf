variable "instance_arn" {
  description = "ARN of the IAM Identity Center instance; empty to use the only instance ListInstances returns."
  type        = string
  default     = ""

  validation {
    condition     = var.instance_arn == "" || can(regex("^arn:aws[a-z-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$", var.instance_arn))
    error_message = "instance_arn must be empty or look like arn:aws:sso:::instance/ssoins-0123456789abcdef."
  }
}

variable "identity_store_id" {
  description = "Identity Store id (d- and 10 characters, or a UUID); empty to take it from the instance."
  type        = string
  default     = ""

  validation {
    condition     = var.identity_store_id == "" || can(regex("^(d-[0-9a-z]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", var.identity_store_id))
    error_message = "identity_store_id must be empty or look like d-0123456789 (d- and 10 lower-case letters or digits) or a UUID."
  }
}

variable "permission_sets" {
  description = "Permission sets to create, keyed by name; see the permission-sets module for the object's fields."
  type = map(object({
    description         = optional(string, "")
    session_duration    = optional(string, "PT1H")
    relay_state         = optional(string)
    managed_policy_arns = optional(list(string), [])
    customer_managed_policies = optional(list(object({
      name = string
      path = optional(string, "/")
    })), [])
    permissions_boundary = optional(object({
      managed_policy_arn = optional(string)
      customer_managed = optional(object({
        name = string
        path = optional(string, "/")
      }))
    }))
    inline_policy = optional(string)
    tags          = optional(map(string), {})
  }))
  default = {}
}

variable "permissions_boundary" {
  description = "Permissions boundary of every permission set created here that sets none of its own (managed_policy_arn of an AWS managed policy, or customer_managed); see the permission-sets module."
  type = object({
    managed_policy_arn = optional(string)
    customer_managed = optional(object({
      name = string
      path = optional(string, "/")
    }))
  })
  default  = { managed_policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess" }
  nullable = false
}

variable "existing_permission_sets" {
  description = "Names of permission sets that already exist in the instance (not managed here) which mappings may reference."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for n in var.existing_permission_sets : can(regex("^[A-Za-z0-9+=,.@_-]{1,32}$", n))])
    error_message = "Permission set names are 1-32 characters of letters, digits and +=,.@_-."
  }
}

variable "mappings" {
  description = <<-EOT
    One entry per mirrored PIM group; the same list renders the bridge's [[mappings]] config.
    identity_center_group: display name of a group created here that the bridge adds activated
    users to. group_assignments: standing assignments of that group (Terraform-owned).
    user_assignments: account x permission set pairs the bridge assigns to each activated user
    (the config's `assignments`).
  EOT
  type = list(object({
    name              = string
    entra_group_id    = string
    access            = optional(string, "member")
    include_permanent = optional(bool, false)
    drift             = optional(string, "report")

    identity_center_group = optional(string)
    group_description     = optional(string, "")
    group_assignments = optional(list(object({
      account_id     = string
      permission_set = string
    })), [])
    user_assignments = optional(list(object({
      account_id     = string
      permission_set = string
    })), [])
  }))

  validation {
    condition     = length(var.mappings) > 0
    error_message = "mappings needs at least one entry (the bridge refuses a config without mappings)."
  }

  validation {
    condition     = alltrue([for m in var.mappings : can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", m.name))])
    error_message = "Mapping names are letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit."
  }

  validation {
    condition     = length(distinct([for m in var.mappings : m.name])) == length(var.mappings)
    error_message = "Mapping names must be unique."
  }

  validation {
    condition     = alltrue([for m in var.mappings : can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", m.entra_group_id))])
    error_message = "entra_group_id must be the Entra group's object id (a GUID)."
  }

  validation {
    condition     = alltrue([for m in var.mappings : contains(["member", "owner"], m.access)])
    error_message = "access must be member or owner."
  }

  validation {
    condition     = alltrue([for m in var.mappings : contains(["report", "remove"], m.drift)])
    error_message = "drift must be report or remove."
  }

  validation {
    condition     = length(distinct([for m in var.mappings : "${lower(m.entra_group_id)}|${m.access}"])) == length(var.mappings)
    error_message = "The same Entra group and access are mapped twice."
  }

  validation {
    condition     = alltrue([for m in var.mappings : m.identity_center_group != null || length(m.user_assignments) > 0])
    error_message = "Every mapping needs identity_center_group or user_assignments (or both)."
  }

  validation {
    condition     = alltrue([for m in var.mappings : m.identity_center_group != null || length(m.group_assignments) == 0])
    error_message = "group_assignments need identity_center_group: they assign that group."
  }

  validation {
    condition = alltrue([for m in var.mappings : m.identity_center_group == null ? true : (
      can(regex("^[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P} ]{1,128}$", m.identity_center_group)) && trimspace(m.identity_center_group) == m.identity_center_group
    )])
    error_message = "identity_center_group is a display name of 1-128 printable characters without leading or trailing spaces."
  }

  validation {
    condition = alltrue(flatten([for m in var.mappings : [
      for a in concat(m.group_assignments, m.user_assignments) : can(regex("^[0-9]{12}$", a.account_id))
    ]]))
    error_message = "account_id must be a 12-digit AWS account id (a string; keep leading zeros)."
  }

  validation {
    condition = alltrue(flatten([for m in var.mappings : [
      for a in concat(m.group_assignments, m.user_assignments) :
      contains(concat(keys(var.permission_sets), var.existing_permission_sets), a.permission_set)
    ]]))
    error_message = "A mapping names a permission set that is neither in permission_sets nor in existing_permission_sets."
  }
}

variable "bridge_role" {
  description = "The bridge's IAM role (bridge-iam module); null creates no role."
  type = object({
    name                       = optional(string, "pim-bridge")
    path                       = optional(string, "/")
    compute                    = optional(string, "ecs")
    eks_oidc_provider_arn      = optional(string, "")
    eks_service_account        = optional(string, "pim-bridge/pim-bridge")
    trusted_source_account_id  = optional(string, "")
    assume_role_arns           = optional(list(string), [])
    scp_policy_arn             = optional(string, "")
    permissions_boundary_arn   = optional(string)
    activity_trail_bucket      = optional(string, "")
    activity_trail_key_prefix  = optional(string, "AWSLogs/")
    activity_trail_kms_key_arn = optional(string, "")
  })
  default = {}
}

variable "alarms" {
  description = "CloudWatch alarms on the bridge's metrics (alarms module); empty creates none."
  type = map(object({
    metric_name         = string
    description         = optional(string, "")
    statistic           = optional(string, "Maximum")
    comparison_operator = optional(string, "GreaterThanThreshold")
    threshold           = number
    period              = optional(number, 60)
    evaluation_periods  = optional(number, 1)
    treat_missing_data  = optional(string, "breaching")
  }))
  default = {}
}

variable "alarm_namespace" {
  description = "CloudWatch namespace the bridge's metrics arrive in."
  type        = string
  default     = "PimBridge"
}

variable "alarm_actions" {
  description = "ARNs (e.g. SNS topics) the alarms notify."
  type        = list(string)
  default     = []
}

variable "bridge_sid_prefix" {
  description = "Sid prefix of the bridge's session-denial statements in permission set inline policies."
  type        = string
  default     = "PimBridge"
}

variable "bridge_policy_reserve" {
  description = "Characters of each inline policy kept free for the bridge's deny statements."
  type        = number
  default     = 4096
}

variable "bridge_endpoint_url" {
  description = "Value of [aws] endpoint_url in the rendered bridge config; empty for real AWS."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags for every taggable resource."
  type        = map(string)
  default     = {}
}
