variable "instance_arn" {
  description = "ARN of the IAM Identity Center instance, arn:<partition>:sso:::instance/ssoins-<id>."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$", var.instance_arn))
    error_message = "instance_arn must look like arn:aws:sso:::instance/ssoins-0123456789abcdef."
  }
}

variable "group_ids" {
  description = "Identity Store group ids keyed by display name (the jit-groups module's group_ids output)."
  type        = map(string)
}

variable "permission_set_arns" {
  description = "ARNs of permission sets managed elsewhere in this configuration, keyed by name. Names not in this map are looked up in the instance."
  type        = map(string)
  default     = {}
}

variable "assignments" {
  description = "Group to account x permission set assignments: the mirrored group gets the permission set in the account."
  type = list(object({
    group          = string
    account_id     = string
    permission_set = string
  }))
  default = []

  validation {
    condition     = alltrue([for a in var.assignments : can(regex("^[0-9]{12}$", a.account_id))])
    error_message = "account_id must be a 12-digit AWS account id (as a string, keep leading zeros)."
  }

  validation {
    condition     = alltrue([for a in var.assignments : can(regex("^[A-Za-z0-9+=,.@_-]{1,32}$", a.permission_set))])
    error_message = "permission_set must be a permission set name: 1-32 characters of letters, digits and +=,.@_-."
  }

  validation {
    condition     = length(var.assignments) == length(distinct([for a in var.assignments : "${a.group}|${a.account_id}|${a.permission_set}"]))
    error_message = "The same group, account and permission set appear twice in assignments."
  }
}
