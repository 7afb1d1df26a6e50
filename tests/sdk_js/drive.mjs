// Every device, data and network method of the official JS SDK (@tago-io/sdk), called unchanged
// against a TagoIO-compatible target; prints one JSON document on stdout: the methods the SDK has
// (read from its classes) and, per call, the exchanges it made on the wire (method, path, query,
// status, body), recorded by wrapping fetch, which the SDK uses. The Python side
// (tests/server/test_sdk_js_methods.py) judges each answer against schemas/.
// Environment: TAGOIO_API (the target), PROFILE_TOKEN, NETWORK_TOKEN, NETWORK_ID.
import { Device, Network, Resources } from "@tago-io/sdk";

const exchanges = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const answer = await realFetch(input, init);
  const url = new URL(typeof input === "string" ? input : input.url);
  const text = await answer.clone().text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { unparsed: text.slice(0, 200) };
  }
  exchanges.push({
    method: (init?.method || "GET").toUpperCase(),
    path: url.pathname,
    query: url.search,
    status: answer.status,
    body,
  });
  return answer;
};

const methodsOf = (prototype, prefix) =>
  Object.getOwnPropertyNames(prototype)
    .filter((name) => name !== "constructor" && !name.startsWith("_"))
    .map((name) => `${prefix}.${name}`);

const calls = [];
async function call(name, action) {
  const first = exchanges.length;
  let result;
  let error;
  try {
    result = await action();
  } catch (caught) {
    error = String(caught?.message ?? caught);
  }
  calls.push({ name, result, error, exchanges: exchanges.slice(first) });
  return result;
}

async function drain(generator) {
  const pages = [];
  for await (const page of generator) pages.push(page);
  return pages.flat();
}

const resources = new Resources({ token: process.env.PROFILE_TOKEN });
const devices = resources.devices;
const network = new Network({ token: process.env.NETWORK_TOKEN });
const stamp = Date.now();
const serial = `SDKJS-${stamp}`;

let stopped;
try {
  const made = await call("Devices.create", () =>
    devices.create({ name: "sdk-js", type: "mutable", serie_number: serial }),
  );
  const id = made.device_id;
  const device = new Device({ token: made.token });
  const quick = { poolingRecordQty: 2, poolingTime: 1 };

  await call("Device.info", () => device.info());
  await call("Device.sendData", () => device.sendData({ variable: "t", value: 1 }));
  const first = await call("Device.getData", () => device.getData({ variables: "t" }));
  await call("Device.editData", () => device.editData({ id: first[0].id, value: 2 }));
  await call("Device.sendDataStreaming", () =>
    device.sendDataStreaming(
      [1, 2, 3].map((value) => ({ variable: "s", value })),
      quick,
    ),
  );
  await call("Device.getDataStreaming", async () => {
    // the generator polls until a page comes back short
    return drain(device.getDataStreaming({ variables: "s" }, quick));
  });
  await call("Device.deleteData", () => device.deleteData({ variables: ["t", "s"] }));
  await call("Devices.list", () => devices.list({ filter: { name: "sdk-js" } }));
  await call("Devices.listStreaming", () =>
    drain(devices.listStreaming({ filter: { name: "sdk-js" } }, quick)),
  );
  await call("Devices.info", () => devices.info(id));
  await call("Devices.edit", () => devices.edit(id, { description: "sdk-js" }));
  await call("Devices.paramSet", () =>
    devices.paramSet(id, { key: "interval", value: "60", sent: false }),
  );
  const listed = await call("Devices.paramList", () => devices.paramList(id));
  const unread = await call("Device.getParameters", () => device.getParameters("onlyUnRead"));
  await call("Device.setParameterAsRead", () => device.setParameterAsRead(unread[0].id));
  await call("Devices.paramRemove", () => devices.paramRemove(id, listed[0].id));
  const token = await call("Devices.tokenCreate", () =>
    devices.tokenCreate(id, { name: "ro", permission: "read", expire_time: "never" }),
  );
  await call("Devices.tokenList", () => devices.tokenList(id));
  await call("Devices.tokenDelete", () => devices.tokenDelete(token.token));
  await call("Devices.sendDeviceData", () =>
    devices.sendDeviceData(id, [1, 2].map((value) => ({ variable: "p", value }))),
  );
  await call("Devices.sendDeviceDataStreaming", () =>
    devices.sendDeviceDataStreaming(
      id,
      [3, 4, 5].map((value) => ({ variable: "q", value })),
      quick,
    ),
  );
  const read = await call("Devices.getDeviceData", () => devices.getDeviceData(id, { variables: "p" }));
  await call("Devices.getDeviceDataStreaming", () =>
    drain(devices.getDeviceDataStreaming(id, { variables: "q" }, quick)),
  );
  await call("Devices.editDeviceData", () => devices.editDeviceData(id, { id: read[0].id, value: 5 }));
  await call("Devices.deleteDeviceData", () => devices.deleteDeviceData(id, { ids: [read[0].id] }));
  await call("Devices.amount", () => devices.amount(id));
  const backup = await call("Devices.dataBackup", () =>
    devices.dataBackup({ deviceID: id, file_address: `/sdk-js/${stamp}` }),
  );
  await call("Devices.emptyDeviceData", () => devices.emptyDeviceData(id));
  await call("Devices.dataRestore", () =>
    devices.dataRestore({ deviceID: id, file_address: backup.file_address }),
  );
  await call("Network.info", () => network.info());
  await call("Network.resolveToken", () => network.resolveToken(serial));
  await call("Network.deviceParamSet", () =>
    network.deviceParamSet(id, { key: "mode", value: "eco", sent: false }),
  );

  const frozen = await call("Devices.create", () =>
    devices.create({ name: "sdk-js-frozen", type: "immutable", chunk_period: "day", chunk_retention: 1 }),
  );
  await new Device({ token: frozen.token }).sendData({ variable: "c", value: 1 });
  const chunks = await call("Devices.getChunk", () => devices.getChunk(frozen.device_id));
  await call("Devices.dataBackup", () => devices.dataBackup({ deviceID: frozen.device_id }, chunks[0].id));
  await call("Devices.deleteChunk", () => devices.deleteChunk(frozen.device_id, chunks[0].id));
  await call("Devices.delete", () => devices.delete(frozen.device_id));
  await call("Devices.delete", () => devices.delete(id));
} catch (caught) {
  // a call the rest depends on failed: what was recorded still goes out
  stopped = String(caught?.message ?? caught);
}

const methods = [
  ...methodsOf(Device.prototype, "Device"),
  ...methodsOf(Object.getPrototypeOf(devices), "Devices"),
  ...methodsOf(Network.prototype, "Network"),
];
process.stdout.write(JSON.stringify({ methods, calls, stopped }));
if (stopped) process.exitCode = 1;
