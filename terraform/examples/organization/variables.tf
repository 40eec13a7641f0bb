variable "region" {
  description = "Region of the IAM Identity Center instance."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "instance_arn" {
  description = "Identity Center instance ARN; empty to use the only instance (run in the management or delegated administrator account)."
  type        = string
  default     = ""
}

variable "accounts" {
  description = "Member accounts by environment, e.g. { prod = \"111111111111\", staging = \"222222222222\" }."
  type        = map(string)

  validation {
    condition     = alltrue([for id in values(var.accounts) : can(regex("^[0-9]{12}$", id))])
    error_message = "Every account id must be a 12-digit AWS account id (quoted, keep leading zeros)."
  }

  validation {
    condition     = alltrue([for env in ["prod", "staging", "sandbox"] : contains(keys(var.accounts), env)])
    error_message = "accounts needs the keys prod, staging and sandbox."
  }
}

variable "entra_groups" {
  description = "Object ids of the PIM-enabled Entra groups: prod_admin, prod_operator, nonprod_developer, auditor."
  type = object({
    prod_admin        = string
    prod_operator     = string
    nonprod_developer = string
    auditor           = string
  })
}

variable "eks_oidc_provider_arn" {
  description = "IAM OIDC provider ARN of the EKS cluster the bridge runs in (IRSA)."
  type        = string
}

variable "scp_policy_arn" {
  description = "ARN of the SCP the bridge may edit for session denial; empty to use inline policies only."
  type        = string
  default     = ""
}

variable "alarm_topic_arn" {
  description = "SNS topic notified by the bridge's alarms; empty to create no alarms."
  type        = string
  default     = ""
}
