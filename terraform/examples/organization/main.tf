# An organization: three member accounts, four PIM groups, a permissions boundary, a
# customer-managed policy present in every account, the bridge on EKS (IRSA) and alarms.
locals {
  boundary = { customer_managed = { name = "pim-boundary", path = "/pim/" } }
}

module "pim_bridge" {
  source = "../../modules/pim-bridge"

  instance_arn = var.instance_arn

  permission_sets = {
    PimProdAdmin = {
      description          = "Production administrator while a PIM activation is live."
      session_duration     = "PT1H"
      managed_policy_arns  = ["arn:aws:iam::aws:policy/AdministratorAccess"]
      permissions_boundary = local.boundary
    }
    PimOperator = {
      description               = "Operate workloads: restart, scale, read logs."
      session_duration          = "PT2H"
      managed_policy_arns       = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
      customer_managed_policies = [{ name = "pim-operator", path = "/pim/" }]
      permissions_boundary      = local.boundary
    }
    PimDeveloper = {
      description         = "Developer access to non-production accounts."
      session_duration    = "PT8H"
      managed_policy_arns = ["arn:aws:iam::aws:policy/PowerUserAccess"]
      inline_policy = jsonencode({
        Version = "2012-10-17"
        Statement = [{
          Sid       = "StayInApprovedRegions"
          Effect    = "Deny"
          NotAction = ["iam:*", "sts:*", "support:*", "organizations:*"]
          Resource  = ["*"]
          Condition = { StringNotEquals = { "aws:RequestedRegion" = ["eu-west-1", "us-east-1"] } }
        }]
      })
    }
  }

  # Created outside this configuration (e.g. by the landing zone); looked up by name.
  existing_permission_sets = ["AuditReadOnly"]

  mappings = [
    {
      name                  = "prod-admin"
      entra_group_id        = var.entra_groups.prod_admin
      drift                 = "remove"
      identity_center_group = "PIM-Prod-Admin"
      group_assignments     = [{ account_id = var.accounts.prod, permission_set = "PimProdAdmin" }]
    },
    {
      name                  = "prod-admin-owners"
      entra_group_id        = var.entra_groups.prod_admin
      access                = "owner"
      identity_center_group = "PIM-Prod-Admin"
    },
    {
      name                  = "operator"
      entra_group_id        = var.entra_groups.prod_operator
      identity_center_group = "PIM-Operator"
      group_assignments = [
        { account_id = var.accounts.prod, permission_set = "PimOperator" },
        { account_id = var.accounts.staging, permission_set = "PimOperator" },
      ]
    },
    {
      name           = "developer"
      entra_group_id = var.entra_groups.nonprod_developer
      user_assignments = [
        { account_id = var.accounts.staging, permission_set = "PimDeveloper" },
        { account_id = var.accounts.sandbox, permission_set = "PimDeveloper" },
      ]
    },
    {
      name              = "auditor"
      entra_group_id    = var.entra_groups.auditor
      include_permanent = true
      user_assignments  = [for id in values(var.accounts) : { account_id = id, permission_set = "AuditReadOnly" }]
    },
  ]

  bridge_role = {
    name                  = "pim-bridge"
    compute               = "eks"
    eks_oidc_provider_arn = var.eks_oidc_provider_arn
    eks_service_account   = "pim-bridge/pim-bridge"
    scp_policy_arn        = var.scp_policy_arn
  }

  alarms = var.alarm_topic_arn == "" ? {} : {
    changes-failed = {
      metric_name = "ChangesFailed"
      description = "A membership or assignment change failed (see pim-bridge report)."
      statistic   = "Sum"
      threshold   = 0
    }
    slow-revocations = {
      metric_name        = "RevocationLatency"
      description        = "A grant outlived its PIM end time by more than 5 s."
      statistic          = "Maximum"
      threshold          = 5
      treat_missing_data = "notBreaching"
    }
  }
  alarm_actions = var.alarm_topic_arn == "" ? [] : [var.alarm_topic_arn]

  tags = { "app" = "pim-bridge" }
}
