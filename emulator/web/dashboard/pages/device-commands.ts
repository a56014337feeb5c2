import { describeError, type PageContext } from '../page';

/**
 * Copies a device's connection string: it is fetched only now, on the user's request, and goes to the clipboard
 * without being shown or kept by the page.
 */
export async function copyConnectionString(context: PageContext, deviceId: string): Promise<void> {
  const { connectionString } = await context.api.connectionString(deviceId, 'primary');
  try {
    await navigator.clipboard.writeText(connectionString);
    context.announce(`Connection string of ${deviceId} copied to the clipboard.`);
  } catch (error) {
    context.notify(`The browser refused the clipboard: ${describeError(error)}`, 'error');
  }
}
