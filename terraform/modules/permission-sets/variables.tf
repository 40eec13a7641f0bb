variable "instance_arn" {
  description = "ARN of the IAM Identity Center instance, arn:<partition>:sso:::instance/ssoins-<id>."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$", var.instance_arn))
    error_message = "instance_arn must look like arn:aws:sso:::instance/ssoins-0123456789abcdef."
  }
}

variable "permission_sets" {
  description = <<-EOT
    Permission sets to create, keyed by name. `session_duration` is ISO-8601 (PT1H to PT12H).
    `inline_policy` is an IAM policy JSON document that Terraform writes once at creation;
    the bridge merges its session-denial statements (Sid prefix `bridge_sid_prefix`) into the same
    inline policy afterwards, so Terraform ignores later changes to it (see README).
  EOT
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

  validation {
    condition     = alltrue([for name in keys(var.permission_sets) : can(regex("^[A-Za-z0-9+=,.@_-]{1,32}$", name))])
    error_message = "Permission set names are 1-32 characters of letters, digits and +=,.@_- (an Identity Center limit)."
  }

  validation {
    condition = alltrue([
      for ps in values(var.permission_sets) :
      can(regex("^PT([0-9]+H)?([0-9]+M)?$", ps.session_duration)) && ps.session_duration != "PT" && (
        try(tonumber(trimsuffix(regex("[0-9]+H", ps.session_duration), "H")), 0) * 60
        + try(tonumber(trimsuffix(regex("[0-9]+M", ps.session_duration), "M")), 0)
        ) >= 60 && (
        try(tonumber(trimsuffix(regex("[0-9]+H", ps.session_duration), "H")), 0) * 60
        + try(tonumber(trimsuffix(regex("[0-9]+M", ps.session_duration), "M")), 0)
      ) <= 720
    ])
    error_message = "session_duration must be an ISO-8601 duration from PT1H to PT12H, e.g. PT1H, PT4H30M, PT12H."
  }

  validation {
    condition = alltrue(flatten([
      for ps in values(var.permission_sets) : [
        for arn in ps.managed_policy_arns : can(regex("^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/.+$", arn))
      ]
    ]))
    error_message = "managed_policy_arns must be IAM policy ARNs, e.g. arn:aws:iam::aws:policy/ReadOnlyAccess."
  }

  validation {
    condition = alltrue([
      for ps in values(var.permission_sets) :
      ps.permissions_boundary == null ? true : (
        (try(ps.permissions_boundary.managed_policy_arn, null) == null) != (try(ps.permissions_boundary.customer_managed, null) == null)
      )
    ])
    error_message = "permissions_boundary takes exactly one of managed_policy_arn or customer_managed."
  }

  validation {
    condition = alltrue([
      for ps in values(var.permission_sets) :
      can(regex("^arn:aws[a-z-]*:iam::aws:policy/.+$", coalesce(try(ps.permissions_boundary.managed_policy_arn, null), "arn:aws:iam::aws:policy/none")))
    ])
    error_message = "A permissions_boundary.managed_policy_arn must be an AWS managed policy ARN (arn:aws:iam::aws:policy/...); use customer_managed for your own policy."
  }

  validation {
    condition = alltrue([
      for ps in values(var.permission_sets) :
      ps.inline_policy == null ? true : can(jsondecode(ps.inline_policy).Statement)
    ])
    error_message = "inline_policy must be an IAM policy JSON document with a Statement list (e.g. from aws_iam_policy_document)."
  }

  validation {
    condition = alltrue(flatten([
      for ps in values(var.permission_sets) : [
        for st in try(jsondecode(ps.inline_policy).Statement, []) :
        !startswith(try(tostring(st.Sid), ""), var.bridge_sid_prefix)
      ]
    ]))
    error_message = "An inline_policy statement uses the bridge's Sid prefix (bridge_sid_prefix); that prefix is reserved for the bridge's session-denial statements."
  }

  validation {
    condition = alltrue([
      for ps in values(var.permission_sets) :
      length(replace(coalesce(ps.inline_policy, "{}"), "/\\s/", "")) <= 10240 - var.bridge_policy_reserve
    ])
    error_message = "An inline_policy is longer than 10,240 non-whitespace characters minus bridge_policy_reserve; move permissions into a managed or customer-managed policy."
  }
}

variable "permissions_boundary" {
  description = <<-EOT
    Permissions boundary attached to every permission set that sets none of its own: an AWS
    managed policy ARN (`managed_policy_arn`) or a customer managed policy reference
    (`customer_managed`, which must exist under that name and path in every account the
    permission set is provisioned to). The default, PowerUserAccess, leaves out IAM,
    Organizations and account management, so no rewrite of an inline policy can grant a way to
    make IAM users, roles or keys that outlive a PIM activation.
  EOT
  type = object({
    managed_policy_arn = optional(string)
    customer_managed = optional(object({
      name = string
      path = optional(string, "/")
    }))
  })
  default  = { managed_policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess" }
  nullable = false

  validation {
    condition     = (var.permissions_boundary.managed_policy_arn == null) != (var.permissions_boundary.customer_managed == null)
    error_message = "permissions_boundary takes exactly one of managed_policy_arn or customer_managed."
  }

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::aws:policy/.+$", coalesce(var.permissions_boundary.managed_policy_arn, "arn:aws:iam::aws:policy/none")))
    error_message = "permissions_boundary.managed_policy_arn must be an AWS managed policy ARN (arn:aws:iam::aws:policy/...); use customer_managed for your own policy."
  }
}

variable "bridge_sid_prefix" {
  description = "Sid prefix of the bridge's session-denial statements; Terraform-written statements may not use it."
  type        = string
  default     = "PimBridge"

  validation {
    condition     = can(regex("^[A-Za-z0-9]{3,32}$", var.bridge_sid_prefix))
    error_message = "bridge_sid_prefix must be 3-32 letters or digits (IAM Sid characters)."
  }
}

variable "bridge_policy_reserve" {
  description = "Characters of the 10,240-character inline policy kept free for the bridge's deny statements."
  type        = number
  default     = 4096

  validation {
    condition     = var.bridge_policy_reserve >= 0 && var.bridge_policy_reserve <= 10240
    error_message = "bridge_policy_reserve must be between 0 and 10240."
  }
}

variable "tags" {
  description = "Tags added to every permission set."
  type        = map(string)
  default     = {}
}
