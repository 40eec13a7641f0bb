mock_provider "aws" {}

variables {
  namespace     = "PimBridge"
  dimensions    = { service = "pim-bridge" }
  alarm_actions = ["arn:aws:sns:us-east-1:111111111111:ops"]
  alarms = {
    changes-failed = { metric_name = "ChangesFailed", statistic = "Sum", threshold = 0 }
  }
}

run "alarm_watches_the_bridge_metric_and_notifies" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["changes-failed"].alarm_name == "pim-bridge-changes-failed"
    error_message = "Alarm names are prefixed."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["changes-failed"].namespace == "PimBridge"
      && aws_cloudwatch_metric_alarm.this["changes-failed"].metric_name == "ChangesFailed"
      && aws_cloudwatch_metric_alarm.this["changes-failed"].dimensions["service"] == "pim-bridge"
      && aws_cloudwatch_metric_alarm.this["changes-failed"].ok_actions == toset(var.alarm_actions)
    )
    error_message = "Alarm must watch the configured metric and notify on alarm and recovery."
  }
}

run "no_alarms_by_default" {
  command = plan

  variables {
    alarms = {}
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 0
    error_message = "Alarms are optional."
  }
}

run "rejects_unknown_statistic" {
  command = plan

  variables {
    alarms = { a = { metric_name = "m", statistic = "p99", threshold = 1 } }
  }

  expect_failures = [var.alarms]
}

run "rejects_aws_namespace" {
  command = plan

  variables {
    namespace = "AWS/EC2"
  }

  expect_failures = [var.namespace]
}
