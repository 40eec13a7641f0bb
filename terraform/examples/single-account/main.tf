# One account, two PIM groups:
# - admins are mirrored into the bridge-owned group PIM-Admin, which Terraform assigns PimAdmin;
# - read-only users are assigned PimReadOnly directly by the bridge while their activation lasts.
module "pim_bridge" {
  source = "../../modules/pim-bridge"

  instance_arn        = var.instance_arn
  bridge_endpoint_url = var.bridge_endpoint_url

  permission_sets = {
    PimAdmin = {
      description         = "Administrator access while a PIM activation is live."
      session_duration    = "PT1H"
      managed_policy_arns = ["arn:aws:iam::aws:policy/AdministratorAccess"]
      # Administrators need IAM, which the default boundary (PowerUserAccess) leaves out.
      permissions_boundary = { managed_policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess" }
    }
    PimReadOnly = {
      description         = "Read-only access while a PIM activation is live."
      session_duration    = "PT4H"
      managed_policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
      # Whatever is written into its inline policy, this permission set stays read-only.
      permissions_boundary = { managed_policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess" }
      inline_policy = jsonencode({
        Version = "2012-10-17"
        Statement = [{
          Sid      = "NoSecretValues"
          Effect   = "Deny"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = ["*"]
        }]
      })
    }
  }

  mappings = [
    {
      name                  = "admin"
      entra_group_id        = var.admin_entra_group_id
      drift                 = "remove"
      identity_center_group = "PIM-Admin"
      group_description     = "Members are added and removed by pim-bridge from Entra PIM activations."
      group_assignments     = [{ account_id = var.account_id, permission_set = "PimAdmin" }]
    },
    {
      name             = "readonly"
      entra_group_id   = var.readonly_entra_group_id
      user_assignments = [{ account_id = var.account_id, permission_set = "PimReadOnly" }]
    },
  ]

  bridge_role = {
    name    = "pim-bridge"
    compute = var.bridge_compute
  }

  tags = { "app" = "pim-bridge" }
}
