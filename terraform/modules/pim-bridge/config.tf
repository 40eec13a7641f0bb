# Renders the bridge's TOML config from the same inputs the resources are made from, so the names
# in pim-bridge.toml and in Identity Center cannot drift apart. Strings go through jsonencode: a
# JSON string is a valid TOML basic string.
locals {
  mapping_blocks = [
    for m in var.mappings : join("\n", compact(concat(
      [
        "[[mappings]]",
        "name = ${jsonencode(m.name)}",
        "entra_group_id = ${jsonencode(m.entra_group_id)}",
        "access = ${jsonencode(m.access)}",
        "include_permanent = ${jsonencode(m.include_permanent)}",
        "drift = ${jsonencode(m.drift)}",
        m.identity_center_group == null ? "" : "identity_center_group = ${jsonencode(m.identity_center_group)}",
      ],
      length(m.user_assignments) == 0 ? [] : concat(
        ["assignments = ["],
        [
          for a in m.user_assignments :
          "  { account_id = ${jsonencode(a.account_id)}, permission_set = ${jsonencode(a.permission_set)} },"
        ],
        ["]"],
      ),
    )))
  ]

  mappings_toml = "${join("\n\n", local.mapping_blocks)}\n"

  aws_toml = "${join("\n", compact([
    "[aws]",
    "region = ${jsonencode(data.aws_region.current.name)}",
    "identity_store_id = ${jsonencode(local.identity_store_id)}",
    "instance_arn = ${jsonencode(local.instance_arn)}",
    var.bridge_endpoint_url == "" ? "" : "endpoint_url = ${jsonencode(var.bridge_endpoint_url)}",
  ]))}\n"
}
