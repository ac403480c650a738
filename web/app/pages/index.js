// The console tree (the 2007 console's nodes) and the page of each leaf.
import { transportSettings } from "./transport.js";
import { sendConnectors } from "./send.js";
import { receiveConnectors } from "./receive.js";
import { certificates } from "./certificates.js";
import { queueViewer, partners, acceptedDomains, trustedRoots, messageTracking, protocolLogs, counters, testMailflow } from "./more.js";

export const PAGES = {
  certificates: { title: "Certificates", render: certificates },
  "receive-connectors": { title: "Receive connectors", render: receiveConnectors },
  "queue-viewer": { title: "Queue Viewer", render: queueViewer },
  "send-connectors": { title: "Send connectors", render: sendConnectors },
  "transport-settings": { title: "Transport settings", render: transportSettings },
  partners: { title: "Partners", render: partners },
  "accepted-domains": { title: "Accepted domains", render: acceptedDomains },
  "trusted-roots": { title: "Trusted roots and intermediates", render: trustedRoots },
  "message-tracking": { title: "Message tracking", render: messageTracking },
  "protocol-logs": { title: "Protocol logs", render: protocolLogs },
  counters: { title: "Counters", render: counters },
  "test-mail-flow": { title: "Test mail flow", render: testMailflow },
};

const leaf = (page) => ({ page, label: PAGES[page].title });

export const TREE = [
  { label: "Edge Transport (this server)", children: [leaf("certificates"), leaf("receive-connectors"), leaf("queue-viewer")] },
  { label: "Organization Configuration", children: [{ label: "Hub Transport", children: [leaf("send-connectors"), leaf("transport-settings"), leaf("partners"), leaf("accepted-domains"), leaf("trusted-roots")] }] },
  { label: "Toolbox", children: [leaf("message-tracking"), leaf("protocol-logs"), leaf("counters"), leaf("test-mail-flow")] },
];
