variable "name_prefix" {
  description = "Prefix of every alarm name."
  type        = string
  default     = "pim-bridge"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,64}$", var.name_prefix))
    error_message = "name_prefix must be 1-64 letters, digits, '.', '_' or '-'."
  }
}

variable "namespace" {
  description = "CloudWatch namespace the bridge's metrics are published to (e.g. by the CloudWatch agent or an OpenTelemetry collector scraping /metrics)."
  type        = string
  default     = "PimBridge"

  validation {
    condition     = can(regex("^[^:][^:]{0,254}$", var.namespace)) && !startswith(var.namespace, "AWS/")
    error_message = "namespace must be 1-255 characters, contain no ':' and not start with AWS/."
  }
}

variable "dimensions" {
  description = "Dimensions every alarm filters on (e.g. { service = \"pim-bridge\" })."
  type        = map(string)
  default     = {}
}

variable "alarms" {
  description = "Alarms keyed by a short name; metric_name is the metric as it arrives in CloudWatch."
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

  validation {
    condition     = alltrue([for a in values(var.alarms) : contains(["SampleCount", "Average", "Sum", "Minimum", "Maximum"], a.statistic)])
    error_message = "statistic must be one of SampleCount, Average, Sum, Minimum, Maximum."
  }

  validation {
    condition = alltrue([for a in values(var.alarms) : contains([
      "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold",
    ], a.comparison_operator)])
    error_message = "comparison_operator must be a static-threshold operator, e.g. GreaterThanThreshold."
  }

  validation {
    condition     = alltrue([for a in values(var.alarms) : contains(["breaching", "notBreaching", "ignore", "missing"], a.treat_missing_data)])
    error_message = "treat_missing_data must be breaching, notBreaching, ignore or missing."
  }

  validation {
    condition     = alltrue([for a in values(var.alarms) : contains([10, 20, 30], a.period) || (a.period >= 60 && a.period % 60 == 0)])
    error_message = "period must be 10, 20, 30 or a multiple of 60 seconds."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires or recovers (e.g. an SNS topic)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for the alarms."
  type        = map(string)
  default     = {}
}
