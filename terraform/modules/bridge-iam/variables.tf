variable "name" {
  description = "Name of the bridge's IAM role and of its inline policy."
  type        = string
  default     = "pim-bridge"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "name must be 1-64 characters of letters, digits and +=,.@_- (an IAM role name)."
  }
}

variable "path" {
  description = "IAM path of the role."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]+/)?$", var.path)) && length(var.path) <= 512
    error_message = "path must begin and end with / (e.g. / or /pim-bridge/)."
  }
}

variable "instance_arn" {
  description = "ARN of the IAM Identity Center instance, arn:<partition>:sso:::instance/ssoins-<id>."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$", var.instance_arn))
    error_message = "instance_arn must look like arn:aws:sso:::instance/ssoins-0123456789abcdef."
  }
}

variable "identity_store_id" {
  description = "Identity Store id of the instance (d- and 10 characters, or a UUID); identitystore access is limited to it."
  type        = string

  validation {
    condition     = can(regex("^(d-[0-9a-z]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", var.identity_store_id))
    error_message = "identity_store_id must look like d-0123456789 (d- and 10 lower-case letters or digits) or a UUID."
  }
}

variable "identity_store_account_id" {
  description = "12-digit id of the account that holds the Identity Center instance (the management or delegated administrator account)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.identity_store_account_id))
    error_message = "identity_store_account_id must be a 12-digit AWS account id."
  }
}

variable "managed_group_ids" {
  description = "Identity Store ids of the groups whose memberships the bridge may add."
  type        = list(string)
  default     = []
}

variable "assignment_permission_set_arns" {
  description = "Permission sets the bridge assigns to users directly (mappings' assignments): create/delete assignments."
  type        = list(string)
  default     = []
}

variable "denial_permission_set_arns" {
  description = "Permission sets whose inline policy the bridge edits for session denial and re-provisions (every permission set reachable through a mapping)."
  type        = list(string)
  default     = []
}

variable "account_ids" {
  description = "12-digit ids of the accounts the bridge assigns to or re-provisions in."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.account_ids : can(regex("^[0-9]{12}$", a))])
    error_message = "account_ids must be 12-digit AWS account ids (strings, keep leading zeros)."
  }
}

variable "compute" {
  description = "Where the bridge runs, which picks the trust policy: ecs (task role), eks (IRSA) or ec2 (instance profile)."
  type        = string
  default     = "ecs"

  validation {
    condition     = contains(["ecs", "eks", "ec2"], var.compute)
    error_message = "compute must be one of ecs, eks, ec2."
  }
}

variable "eks_oidc_provider_arn" {
  description = "IAM OIDC provider ARN of the EKS cluster (compute = eks)."
  type        = string
  default     = ""

  validation {
    condition     = var.eks_oidc_provider_arn == "" || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/.+$", var.eks_oidc_provider_arn))
    error_message = "eks_oidc_provider_arn must look like arn:aws:iam::123456789012:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<ID>."
  }

  validation {
    condition     = var.compute != "eks" || var.eks_oidc_provider_arn != ""
    error_message = "compute = \"eks\" needs eks_oidc_provider_arn (the cluster's IAM OIDC provider for IRSA)."
  }
}

variable "eks_service_account" {
  description = "Kubernetes service account the bridge runs as, namespace/name (compute = eks)."
  type        = string
  default     = "pim-bridge/pim-bridge"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$", var.eks_service_account))
    error_message = "eks_service_account must be namespace/name in Kubernetes naming (lower case, digits, -)."
  }
}

variable "trusted_source_account_id" {
  description = "If set, the ECS/EC2 trust policy only lets this account's services assume the role (aws:SourceAccount)."
  type        = string
  default     = ""

  validation {
    condition     = var.trusted_source_account_id == "" || can(regex("^[0-9]{12}$", var.trusted_source_account_id))
    error_message = "trusted_source_account_id must be empty or a 12-digit AWS account id."
  }
}

variable "assume_role_arns" {
  description = "Roles the bridge may assume ([aws] role_arn); empty grants no sts:AssumeRole."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.assume_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "assume_role_arns must be IAM role ARNs."
  }
}

variable "scp_policy_arn" {
  description = "ARN of the service control policy the bridge owns for SCP-based session denial; empty grants no organizations access."
  type        = string
  default     = ""

  validation {
    condition     = var.scp_policy_arn == "" || can(regex("^arn:aws[a-z-]*:organizations::[0-9]{12}:policy/o-[a-z0-9]+/service_control_policy/p-[a-z0-9]+$", var.scp_policy_arn))
    error_message = "scp_policy_arn must look like arn:aws:organizations::123456789012:policy/o-abc123/service_control_policy/p-abc123."
  }
}

variable "activity_trail_bucket" {
  description = "S3 bucket the organization trail delivers to, read for [activity] (evidence of use); empty grants no activity permissions."
  type        = string
  default     = ""

  validation {
    condition     = var.activity_trail_bucket == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.activity_trail_bucket))
    error_message = "activity_trail_bucket must be empty or an S3 bucket name (3-63 lower-case letters, digits, '.' and '-')."
  }
}

variable "activity_trail_key_prefix" {
  description = "Fixed start of the trail's log file keys (the trail's own S3 key prefix, then AWSLogs/); s3:GetObject is limited to keys under it."
  type        = string
  default     = "AWSLogs/"

  validation {
    condition     = !startswith(var.activity_trail_key_prefix, "/") && !strcontains(var.activity_trail_key_prefix, "*") && !strcontains(var.activity_trail_key_prefix, "{")
    error_message = "activity_trail_key_prefix is a literal key prefix such as AWSLogs/ or trails/AWSLogs/: no leading /, no * and no {placeholders}."
  }
}

variable "activity_trail_kms_key_arn" {
  description = "KMS key the trail encrypts its log files with (SSE-KMS); empty grants no kms:Decrypt."
  type        = string
  default     = ""

  validation {
    condition     = var.activity_trail_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.activity_trail_kms_key_arn))
    error_message = "activity_trail_kms_key_arn must be empty or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary for the bridge's role."
  type        = string
  default     = null
}

variable "max_session_duration" {
  description = "Maximum session duration of the role in seconds (3600-43200)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200 seconds."
  }
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}
