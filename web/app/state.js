// What the page knows about the caller: the session (name, role groups) and
// the cmdlets CmdletInfo says it may run.
export const state = {
  session: { Name: "", RoleGroups: [] },
  /** name -> CmdletInfo entry */
  cmdlets: new Map(),
  /** The role group a change needs, for the reason shown on a disabled control (the server decides). */
  needs: {},
};

const ORG = "Organization Management";
const SERVER = "Server Management";
for (const c of ["Set-TransportConfig", "Set-SendConnector", "New-SendConnector", "Remove-SendConnector", "Set-DomainSecurePartner", "New-AcceptedDomain", "Set-AcceptedDomain", "Remove-AcceptedDomain", "Add-TrustedRootCertificate", "Remove-TrustedRootCertificate", "Add-IntermediateCertificate", "Remove-IntermediateCertificate"]) state.needs[c] = ORG;
for (const c of ["New-ExchangeCertificate", "Import-ExchangeCertificate", "Enable-ExchangeCertificate", "Export-ExchangeCertificate", "Remove-ExchangeCertificate", "Set-ReceiveConnector", "Retry-Queue", "Suspend-Queue", "Resume-Queue", "Remove-Message", "Test-Mailflow"]) state.needs[c] = SERVER;
