/** How this app names itself to IoT Hub (the User-Agent of its REST calls). */
export const USER_AGENT = 'iot-direct-methods-functions/0.1';
