locals {
  partition   = split(":", var.instance_arn)[1]
  instance_id = split("/", var.instance_arn)[1]

  identity_store_arn = "arn:${local.partition}:identitystore::${var.identity_store_account_id}:identitystore/${var.identity_store_id}"
  all_users          = "arn:${local.partition}:identitystore:::user/*"
  all_groups         = "arn:${local.partition}:identitystore:::group/*"
  all_memberships    = "arn:${local.partition}:identitystore:::membership/*"
  managed_groups     = [for id in sort(distinct(var.managed_group_ids)) : "arn:${local.partition}:identitystore:::group/${id}"]

  instance_permission_sets = "arn:${local.partition}:sso:::permissionSet/${local.instance_id}/*"
  every_instance           = "arn:${local.partition}:sso:::instance/*"
  every_permission_set     = "arn:${local.partition}:sso:::permissionSet/*"
  account_arns             = [for id in sort(distinct(var.account_ids)) : "arn:${local.partition}:sso:::account/${id}"]
  assignment_sets          = sort(distinct(var.assignment_permission_set_arns))
  denial_sets              = sort(distinct(var.denial_permission_set_arns))

  statements = concat(
    [
      {
        Sid      = "IdentityCenterListInstances"
        Effect   = "Allow"
        Action   = ["sso:ListInstances"]
        Resource = ["*"]
      },
      {
        Sid    = "IdentityCenterReadInstance"
        Effect = "Allow"
        Action = [
          "sso:DescribeAccountAssignmentCreationStatus",
          "sso:DescribeAccountAssignmentDeletionStatus",
          "sso:DescribeInstance",
          "sso:DescribePermissionSetProvisioningStatus",
          "sso:ListAccountAssignmentsForPrincipal",
          "sso:ListPermissionSets",
        ]
        Resource = [var.instance_arn]
      },
      {
        Sid      = "IdentityCenterResolvePermissionSetNames"
        Effect   = "Allow"
        Action   = ["sso:DescribePermissionSet"]
        Resource = [var.instance_arn, local.instance_permission_sets]
      },
      {
        Sid    = "IdentityStoreRead"
        Effect = "Allow"
        Action = [
          "identitystore:DescribeGroup",
          "identitystore:GetGroupId",
          "identitystore:GetGroupMembershipId",
          "identitystore:GetUserId",
          "identitystore:ListGroupMemberships",
        ]
        Resource = [local.identity_store_arn, local.all_users, local.all_groups, local.all_memberships]
      },
    ],
    length(local.managed_groups) == 0 ? [] : [
      {
        Sid      = "IdentityStoreAddMembersToManagedGroups"
        Effect   = "Allow"
        Action   = ["identitystore:CreateGroupMembership"]
        Resource = concat([local.identity_store_arn, local.all_users], local.managed_groups)
      },
      # DeleteGroupMembership names only a membership id, but IAM authorises it on the
      # membership's group and user as well: listing the managed groups (and no group/*) keeps
      # removals to them. Membership ids and users cannot be narrowed: any may be a member.
      {
        Sid      = "IdentityStoreRemoveMembersFromManagedGroups"
        Effect   = "Allow"
        Action   = ["identitystore:DeleteGroupMembership"]
        Resource = concat([local.identity_store_arn, local.all_users, local.all_memberships], local.managed_groups)
      },
    ],
    length(local.assignment_sets) == 0 || length(local.account_arns) == 0 ? [] : [
      {
        Sid    = "IdentityCenterUserAssignments"
        Effect = "Allow"
        Action = [
          "sso:CreateAccountAssignment",
          "sso:DeleteAccountAssignment",
          "sso:ListAccountAssignments",
        ]
        Resource = concat([var.instance_arn], local.assignment_sets, local.account_arns)
      },
    ],
    length(local.denial_sets) == 0 ? [] : [
      {
        Sid    = "SessionDenialInlinePolicy"
        Effect = "Allow"
        Action = [
          "sso:DeleteInlinePolicyFromPermissionSet",
          "sso:GetInlinePolicyForPermissionSet",
          "sso:ListAccountsForProvisionedPermissionSet",
          "sso:PutInlinePolicyToPermissionSet",
        ]
        Resource = concat([var.instance_arn], local.denial_sets)
      },
      {
        Sid      = "SessionDenialProvision"
        Effect   = "Allow"
        Action   = ["sso:ProvisionPermissionSet"]
        Resource = concat([var.instance_arn], local.denial_sets, local.account_arns)
      },
    ],
    length(var.assume_role_arns) == 0 ? [] : [
      {
        Sid      = "AssumeConfiguredRole"
        Effect   = "Allow"
        Action   = ["sts:AssumeRole"]
        Resource = sort(distinct(var.assume_role_arns))
      },
    ],
    var.scp_policy_arn == "" ? [] : [
      {
        Sid      = "ScpSessionDenialFind"
        Effect   = "Allow"
        Action   = ["organizations:ListPolicies"]
        Resource = ["*"]
      },
      {
        Sid      = "ScpSessionDenialEdit"
        Effect   = "Allow"
        Action   = ["organizations:DescribePolicy", "organizations:UpdatePolicy"]
        Resource = [var.scp_policy_arn]
      },
    ],
    local.activity_statements,
    [local.deny_permission_set_policy_changes],
  )

  trail_bucket_arn = "arn:${local.partition}:s3:::${var.activity_trail_bucket}"

  activity_statements = var.activity_trail_bucket == "" ? [] : concat(
    [
      # Not limited by s3:prefix: HeadBucket, which tells a missing bucket from a refused one,
      # sends no prefix. A listing shows key names (accounts, regions, days), not records.
      {
        Sid      = "ActivityListTrail"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [local.trail_bucket_arn]
      },
      {
        Sid      = "ActivityReadTrail"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${local.trail_bucket_arn}/${var.activity_trail_key_prefix}*"]
      },
      {
        Sid      = "ActivityUserNames"
        Effect   = "Allow"
        Action   = ["identitystore:DescribeUser"]
        Resource = [local.identity_store_arn, local.all_users]
      },
    ],
    var.activity_trail_kms_key_arn == "" ? [] : [
      {
        Sid      = "ActivityDecryptTrail"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.activity_trail_kms_key_arn]
      },
    ],
  )

  # PutInlinePolicyToPermissionSet writes whole documents, so a stolen role could write Allow
  # statements into a mapped permission set; the permission set's boundary caps what they can
  # grant. These explicit Denies keep the role from moving that cap or adding policies around
  # it, whatever else is ever attached to the role.
  denied_permission_set_actions = [
    "sso:AttachCustomerManagedPolicyReferenceToPermissionSet",
    "sso:AttachManagedPolicyToPermissionSet",
    "sso:DeletePermissionsBoundaryFromPermissionSet",
    "sso:DetachCustomerManagedPolicyReferenceFromPermissionSet",
    "sso:DetachManagedPolicyFromPermissionSet",
    "sso:PutPermissionsBoundaryToPermissionSet",
  ]

  deny_permission_set_policy_changes = {
    Sid      = "DenyPermissionSetPolicyChanges"
    Effect   = "Deny"
    Action   = local.denied_permission_set_actions
    Resource = [local.every_instance, local.every_permission_set]
  }

  policy_json = jsonencode({ Version = "2012-10-17", Statement = local.statements })

  source_account_condition = var.trusted_source_account_id == "" ? {} : {
    StringEquals = { "aws:SourceAccount" = var.trusted_source_account_id }
  }

  oidc_issuer = var.eks_oidc_provider_arn == "" ? "" : split("oidc-provider/", var.eks_oidc_provider_arn)[1]

  trust_statement = {
    ecs = merge({
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }, length(local.source_account_condition) == 0 ? {} : { Condition = local.source_account_condition })
    ec2 = merge({
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }, length(local.source_account_condition) == 0 ? {} : { Condition = local.source_account_condition })
    eks = {
      Effect    = "Allow"
      Principal = { Federated = var.eks_oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_issuer}:sub" = "system:serviceaccount:${replace(var.eks_service_account, "/", ":")}"
          "${local.oidc_issuer}:aud" = "sts.amazonaws.com"
        }
      }
    }
  }[var.compute]

  trust_policy_json = jsonencode({ Version = "2012-10-17", Statement = [local.trust_statement] })
}

resource "aws_iam_role" "this" {
  name                 = var.name
  path                 = var.path
  description          = "pim-bridge: mirrors Entra PIM for Groups activations into IAM Identity Center."
  assume_role_policy   = local.trust_policy_json
  max_session_duration = var.max_session_duration
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = var.name
  role   = aws_iam_role.this.id
  policy = local.policy_json

  lifecycle {
    precondition {
      condition     = length(local.policy_json) <= 10240
      error_message = "The bridge's policy is longer than the 10,240 characters IAM allows for a role's inline policies; split managed groups or accounts across roles."
    }
  }
}

resource "aws_iam_instance_profile" "this" {
  count = var.compute == "ec2" ? 1 : 0

  name = var.name
  path = var.path
  role = aws_iam_role.this.name
  tags = var.tags
}
