mock_provider "aws" {}

variables {
  instance_arn                   = "arn:aws:sso:::instance/ssoins-1111111111111111"
  identity_store_id              = "d-1111111111"
  identity_store_account_id      = "999999999999"
  managed_group_ids              = ["g-1", "g-2"]
  assignment_permission_set_arns = ["arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-a"]
  denial_permission_set_arns = [
    "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-a",
    "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-b",
  ]
  account_ids = ["111111111111"]
}

run "grants_exactly_the_calls_the_bridge_makes" {
  command = plan

  assert {
    condition = output.granted_actions == sort([
      "identitystore:GetUserId", "identitystore:GetGroupId", "identitystore:DescribeGroup",
      "identitystore:ListGroupMemberships", "identitystore:CreateGroupMembership",
      "identitystore:GetGroupMembershipId", "identitystore:DeleteGroupMembership",
      "sso:ListInstances", "sso:DescribeInstance", "sso:ListPermissionSets", "sso:DescribePermissionSet",
      "sso:ListAccountAssignments", "sso:CreateAccountAssignment",
      "sso:DescribeAccountAssignmentCreationStatus", "sso:DeleteAccountAssignment",
      "sso:DescribeAccountAssignmentDeletionStatus", "sso:ListAccountAssignmentsForPrincipal",
      "sso:DeleteInlinePolicyFromPermissionSet", "sso:GetInlinePolicyForPermissionSet",
      "sso:PutInlinePolicyToPermissionSet", "sso:ProvisionPermissionSet",
      "sso:DescribePermissionSetProvisioningStatus", "sso:ListAccountsForProvisionedPermissionSet",
    ])
    error_message = "Granted: ${jsonencode(output.granted_actions)}"
  }
}

run "writes_are_scoped_to_managed_groups_and_permission_sets" {
  command = plan

  assert {
    condition = toset([for s in jsondecode(output.policy_json).Statement : s if s.Sid == "IdentityStoreAddMembersToManagedGroups"][0].Resource) == toset([
      "arn:aws:identitystore::999999999999:identitystore/d-1111111111",
      "arn:aws:identitystore:::user/*",
      "arn:aws:identitystore:::group/g-1",
      "arn:aws:identitystore:::group/g-2",
    ])
    error_message = "Membership writes must be limited to the identity store and the managed groups."
  }

  assert {
    condition = toset([for s in jsondecode(output.policy_json).Statement : s if s.Sid == "IdentityCenterUserAssignments"][0].Resource) == toset([
      "arn:aws:sso:::instance/ssoins-1111111111111111",
      "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-a",
      "arn:aws:sso:::account/111111111111",
    ])
    error_message = "Assignment writes must be limited to the assigned permission sets and accounts."
  }

  assert {
    condition = toset([for s in jsondecode(output.policy_json).Statement : s if s.Sid == "SessionDenialInlinePolicy"][0].Resource) == toset([
      "arn:aws:sso:::instance/ssoins-1111111111111111",
      "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-a",
      "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-b",
    ])
    error_message = "Inline-policy writes must be limited to the mapped permission sets."
  }

  assert {
    condition     = alltrue([for s in jsondecode(output.policy_json).Statement : s.Resource != ["*"] if !contains(["IdentityCenterListInstances", "ScpSessionDenialFind"], s.Sid)])
    error_message = "Only actions without resource-level permissions may use Resource *."
  }
}

run "membership_removals_are_scoped_to_managed_groups" {
  command = plan

  assert {
    condition = toset([for s in jsondecode(output.policy_json).Statement : s if s.Sid == "IdentityStoreRemoveMembersFromManagedGroups"][0].Resource) == toset([
      "arn:aws:identitystore::999999999999:identitystore/d-1111111111",
      "arn:aws:identitystore:::user/*",
      "arn:aws:identitystore:::membership/*",
      "arn:aws:identitystore:::group/g-1",
      "arn:aws:identitystore:::group/g-2",
    ])
    error_message = "DeleteGroupMembership must name the managed groups and no group/*."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.policy_json).Statement :
      !contains(s.Resource, "arn:aws:identitystore:::group/*")
      if length(setintersection(s.Action, ["identitystore:CreateGroupMembership", "identitystore:DeleteGroupMembership"])) > 0
    ])
    error_message = "No statement lets membership writes reach every group."
  }
}

run "permission_set_policy_and_boundary_changes_are_denied" {
  command = plan

  assert {
    condition = output.denied_actions == sort([
      "sso:AttachCustomerManagedPolicyReferenceToPermissionSet",
      "sso:AttachManagedPolicyToPermissionSet",
      "sso:DeletePermissionsBoundaryFromPermissionSet",
      "sso:DetachCustomerManagedPolicyReferenceFromPermissionSet",
      "sso:DetachManagedPolicyFromPermissionSet",
      "sso:PutPermissionsBoundaryToPermissionSet",
    ])
    error_message = "Denied: ${jsonencode(output.denied_actions)}"
  }

  assert {
    condition = [for s in jsondecode(output.policy_json).Statement : s.Resource if s.Effect == "Deny"] == [[
      "arn:aws:sso:::instance/*",
      "arn:aws:sso:::permissionSet/*",
    ]]
    error_message = "The Deny covers every instance and permission set."
  }

  assert {
    condition     = length(setintersection(output.granted_actions, output.denied_actions)) == 0
    error_message = "A denied action is never also granted."
  }
}

run "activity_reads_the_trail_bucket_when_named" {
  command = plan

  variables {
    activity_trail_bucket      = "org-trail"
    activity_trail_key_prefix  = "trails/AWSLogs/"
    activity_trail_kms_key_arn = "arn:aws:kms:eu-west-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = {
      for s in jsondecode(output.policy_json).Statement : s.Sid => s.Resource if startswith(s.Sid, "Activity")
      } == {
      ActivityListTrail    = ["arn:aws:s3:::org-trail"]
      ActivityReadTrail    = ["arn:aws:s3:::org-trail/trails/AWSLogs/*"]
      ActivityUserNames    = ["arn:aws:identitystore::999999999999:identitystore/d-1111111111", "arn:aws:identitystore:::user/*"]
      ActivityDecryptTrail = ["arn:aws:kms:eu-west-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    }
    error_message = "Activity grants: ${output.policy_json}"
  }

  assert {
    condition     = contains(output.granted_actions, "s3:GetObject") && contains(output.granted_actions, "s3:ListBucket") && contains(output.granted_actions, "identitystore:DescribeUser")
    error_message = "The activity reads must be granted."
  }
}

run "rejects_activity_prefix_with_placeholders" {
  command = plan

  variables {
    activity_trail_bucket     = "org-trail"
    activity_trail_key_prefix = "AWSLogs/{org_id}/"
  }

  expect_failures = [var.activity_trail_key_prefix]
}

run "no_optional_grants_by_default" {
  command = plan

  assert {
    condition     = length([for a in output.granted_actions : a if startswith(a, "sts:") || startswith(a, "organizations:")]) == 0
    error_message = "sts and organizations are granted only when asked for."
  }

  assert {
    condition     = length([for a in output.granted_actions : a if startswith(a, "s3:") || startswith(a, "kms:") || a == "identitystore:DescribeUser"]) == 0
    error_message = "Activity permissions are granted only with activity_trail_bucket."
  }
}

run "scp_and_assume_role_when_configured" {
  command = plan

  variables {
    assume_role_arns = ["arn:aws:iam::999999999999:role/pim-bridge-target"]
    scp_policy_arn   = "arn:aws:organizations::999999999999:policy/o-abc123/service_control_policy/p-abc123"
  }

  assert {
    condition     = [for s in jsondecode(output.policy_json).Statement : s.Resource if s.Sid == "ScpSessionDenialEdit"][0] == ["arn:aws:organizations::999999999999:policy/o-abc123/service_control_policy/p-abc123"]
    error_message = "UpdatePolicy must be limited to the bridge's SCP."
  }

  assert {
    condition     = contains(output.granted_actions, "sts:AssumeRole") && contains(output.granted_actions, "organizations:UpdatePolicy")
    error_message = "Configured options must be granted."
  }
}

run "ecs_task_trust_by_default" {
  command = apply

  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "ecs-tasks.amazonaws.com"
    error_message = "Default trust is the ECS task service."
  }

  assert {
    condition     = output.instance_profile_name == null
    error_message = "No instance profile outside EC2."
  }
}

run "ec2_gets_an_instance_profile" {
  command = apply

  variables {
    compute                   = "ec2"
    trusted_source_account_id = "999999999999"
  }

  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "ec2.amazonaws.com" && length(aws_iam_instance_profile.this) == 1
    error_message = "EC2 trust and an instance profile expected."
  }

  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "999999999999"
    error_message = "trusted_source_account_id must restrict the trust policy."
  }
}

run "eks_trust_is_bound_to_the_service_account" {
  command = plan

  variables {
    compute               = "eks"
    eks_oidc_provider_arn = "arn:aws:iam::999999999999:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    eks_service_account   = "ops/pim-bridge"
  }

  assert {
    condition = jsondecode(output.trust_policy_json).Statement[0].Condition.StringEquals == {
      "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub" = "system:serviceaccount:ops:pim-bridge"
      "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud" = "sts.amazonaws.com"
    }
    error_message = "IRSA trust must name the service account and audience: ${output.trust_policy_json}"
  }
}

run "eks_without_oidc_provider_is_rejected" {
  command = plan

  variables {
    compute = "eks"
  }

  expect_failures = [var.eks_oidc_provider_arn]
}

run "unknown_compute_is_rejected" {
  command = plan

  variables {
    compute = "lambda"
  }

  expect_failures = [var.compute]
}

run "rejects_bad_account_id" {
  command = plan

  variables {
    account_ids = ["1111"]
  }

  expect_failures = [var.account_ids]
}
