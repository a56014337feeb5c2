// Built-in Azure role definitions the infra may assign, by role name, written from the Azure documentation
// (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles, one page per category; each
// role's JSON shows its "id"/"name" guid). Deliberately NOT imported or copied from infra/: the ARM tests check
// the template's role ids against this table, so a mistyped id fails here instead of at deployment time
// (ARM answers RoleDefinitionDoesNotExist). Built-in role ids are the same in every tenant.
export const BUILTIN_ROLES = {
  // .../built-in-roles/internet-of-things
  'IoT Hub Data Contributor': '4fc6c259-987e-4a07-842e-c321cc9d413f',
  'IoT Hub Registry Contributor': '4ea46cd5-c1b2-4a8e-910b-273211f9ce47',
  // .../built-in-roles/analytics (Event Hubs)
  'Azure Event Hubs Data Sender': '2b629674-e913-4c01-ae53-ef4638d8f975',
  'Azure Event Hubs Data Receiver': 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde',
  // .../built-in-roles/storage
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  // .../built-in-roles/monitor
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
} as const;

export type BuiltInRoleName = keyof typeof BUILTIN_ROLES;

/** The documented role name of a built-in role id, or undefined when the id is not in the table. */
export function builtInRoleName(id: string): BuiltInRoleName | undefined {
  const entry = Object.entries(BUILTIN_ROLES).find(([, roleId]) => roleId === id.toLowerCase());
  return entry ? (entry[0] as BuiltInRoleName) : undefined;
}
