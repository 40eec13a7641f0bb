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
  description = "Identity Center instance ARN; empty to use the account's only instance."
  type        = string
  default     = ""
}

variable "account_id" {
  description = "12-digit id of the account the PIM groups grant access to."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id (quoted, keep leading zeros)."
  }
}

variable "admin_entra_group_id" {
  description = "Object id of the PIM-enabled Entra group whose active members become administrators."
  type        = string
}

variable "readonly_entra_group_id" {
  description = "Object id of the PIM-enabled Entra group whose active members get read-only access."
  type        = string
}

variable "bridge_compute" {
  description = "Where the bridge runs: ecs, eks or ec2 (picks the role's trust policy)."
  type        = string
  default     = "ecs"
}

variable "bridge_endpoint_url" {
  description = "endpoint_url written into the rendered bridge config; empty for real AWS."
  type        = string
  default     = ""
}
