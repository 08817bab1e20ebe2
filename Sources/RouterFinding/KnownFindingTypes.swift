#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// GuardDuty finding types, for sharing their strings: a finding whose `type` is one of these (byte for byte) gets
/// the type and its parts from a table built once, instead of new strings each time (up to four allocations and the
/// split saved). Any other type is read and split as usual, with the same result, so the list only has to be useful,
/// not complete: the catalogue of the GuardDuty user guide (199 types), plus retired types still seen in sample
/// findings.
enum KnownFindingTypes {
    /// Sorted; no duplicates (checked by the tests).
    static let names: [String] = [
        "AttackSequence:EC2/CompromisedInstanceGroup", "AttackSequence:ECS/CompromisedCluster",
        "AttackSequence:EKS/CompromisedCluster", "AttackSequence:IAM/CompromisedCredentials",
        "AttackSequence:S3/CompromisedData", "Backdoor:EC2/C&CActivity.B", "Backdoor:EC2/C&CActivity.B!DNS",
        "Backdoor:EC2/DenialOfService.Dns", "Backdoor:EC2/DenialOfService.Tcp", "Backdoor:EC2/DenialOfService.Udp",
        "Backdoor:EC2/DenialOfService.UdpOnTcpPorts", "Backdoor:EC2/DenialOfService.UnusualProtocol",
        "Backdoor:EC2/Spambot", "Backdoor:Lambda/C&CActivity.B", "Backdoor:Runtime/C&CActivity.B",
        "Backdoor:Runtime/C&CActivity.B!DNS", "Behavior:EC2/NetworkPortUnusual", "Behavior:EC2/TrafficVolumeUnusual",
        "CredentialAccess:IAMUser/AnomalousBehavior", "CredentialAccess:Kubernetes/AnomalousBehavior.SecretsAccessed",
        "CredentialAccess:Kubernetes/MaliciousIPCaller", "CredentialAccess:Kubernetes/MaliciousIPCaller.Custom",
        "CredentialAccess:Kubernetes/SuccessfulAnonymousAccess", "CredentialAccess:Kubernetes/TorIPCaller",
        "CredentialAccess:RDS/AnomalousBehavior.FailedLogin",
        "CredentialAccess:RDS/AnomalousBehavior.SuccessfulBruteForce",
        "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin", "CredentialAccess:RDS/MaliciousIPCaller.FailedLogin",
        "CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin", "CredentialAccess:RDS/TorIPCaller.FailedLogin",
        "CredentialAccess:RDS/TorIPCaller.SuccessfulLogin", "CryptoCurrency:EC2/BitcoinTool.B",
        "CryptoCurrency:EC2/BitcoinTool.B!DNS", "CryptoCurrency:Lambda/BitcoinTool.B",
        "CryptoCurrency:Runtime/BitcoinTool.B", "CryptoCurrency:Runtime/BitcoinTool.B!DNS",
        "DefenseEvasion:EC2/UnusualDNSResolver", "DefenseEvasion:EC2/UnusualDoHActivity",
        "DefenseEvasion:EC2/UnusualDoTActivity", "DefenseEvasion:IAMUser/AnomalousBehavior",
        "DefenseEvasion:IAMUser/BedrockLoggingDisabled", "DefenseEvasion:Kubernetes/MaliciousIPCaller",
        "DefenseEvasion:Kubernetes/MaliciousIPCaller.Custom", "DefenseEvasion:Kubernetes/SuccessfulAnonymousAccess",
        "DefenseEvasion:Kubernetes/TorIPCaller", "DefenseEvasion:Runtime/FilelessExecution",
        "DefenseEvasion:Runtime/KernelModuleLoaded", "DefenseEvasion:Runtime/ProcessInjection.Proc",
        "DefenseEvasion:Runtime/ProcessInjection.Ptrace", "DefenseEvasion:Runtime/ProcessInjection.VirtualMemoryWrite",
        "DefenseEvasion:Runtime/PtraceAntiDebugging", "DefenseEvasion:Runtime/SuspiciousCommand",
        "Discovery:IAMUser/AnomalousBehavior", "Discovery:Kubernetes/AnomalousBehavior.PermissionChecked",
        "Discovery:Kubernetes/MaliciousIPCaller", "Discovery:Kubernetes/MaliciousIPCaller.Custom",
        "Discovery:Kubernetes/SuccessfulAnonymousAccess", "Discovery:Kubernetes/TorIPCaller",
        "Discovery:RDS/MaliciousIPCaller", "Discovery:RDS/TorIPCaller", "Discovery:Runtime/SuspiciousCommand",
        "Discovery:S3/AnomalousBehavior", "Discovery:S3/MaliciousIPCaller", "Discovery:S3/MaliciousIPCaller.Custom",
        "Discovery:S3/TorIPCaller", "Execution:Container/MaliciousFile", "Execution:Container/SuspiciousFile",
        "Execution:EC2/MaliciousFile", "Execution:EC2/MaliciousFile!AMI", "Execution:EC2/MaliciousFile!RecoveryPoint",
        "Execution:EC2/MaliciousFile!Snapshot", "Execution:EC2/SuspiciousFile", "Execution:ECS/MaliciousFile",
        "Execution:ECS/SuspiciousFile", "Execution:Kubernetes/AnomalousBehavior.ExecInPod",
        "Execution:Kubernetes/AnomalousBehavior.WorkloadDeployed", "Execution:Kubernetes/ExecInKubeSystemPod",
        "Execution:Kubernetes/MaliciousFile", "Execution:Kubernetes/SuspiciousFile",
        "Execution:Runtime/MaliciousFileExecuted", "Execution:Runtime/NewBinaryExecuted",
        "Execution:Runtime/NewLibraryLoaded", "Execution:Runtime/ReverseShell", "Execution:Runtime/SuspiciousCommand",
        "Execution:Runtime/SuspiciousShellCreated", "Execution:Runtime/SuspiciousTool",
        "Execution:S3/MaliciousFile!RecoveryPoint", "Exfiltration:IAMUser/AnomalousBehavior",
        "Exfiltration:S3/AnomalousBehavior", "Exfiltration:S3/MaliciousIPCaller", "Exfiltration:S3/ObjectRead.Unusual",
        "Impact:EC2/AbusedDomainRequest.Reputation", "Impact:EC2/BitcoinDomainRequest.Reputation",
        "Impact:EC2/MaliciousDomainRequest.Custom", "Impact:EC2/MaliciousDomainRequest.Reputation",
        "Impact:EC2/PortSweep", "Impact:EC2/SuspiciousDomainRequest.Reputation", "Impact:EC2/WinRMBruteForce",
        "Impact:IAMUser/AnomalousBehavior", "Impact:Kubernetes/MaliciousIPCaller",
        "Impact:Kubernetes/MaliciousIPCaller.Custom", "Impact:Kubernetes/SuccessfulAnonymousAccess",
        "Impact:Kubernetes/TorIPCaller", "Impact:Runtime/AbusedDomainRequest.Reputation",
        "Impact:Runtime/BitcoinDomainRequest.Reputation", "Impact:Runtime/CryptoMinerExecuted",
        "Impact:Runtime/MaliciousDomainRequest.Reputation", "Impact:Runtime/SuspiciousDomainRequest.Reputation",
        "Impact:S3/AnomalousBehavior.Delete", "Impact:S3/AnomalousBehavior.Permission",
        "Impact:S3/AnomalousBehavior.Write", "Impact:S3/MaliciousIPCaller", "InitialAccess:IAMUser/AnomalousBehavior",
        "Object:S3/MaliciousFile", "PenTest:IAMUser/KaliLinux", "PenTest:IAMUser/ParrotLinux",
        "PenTest:IAMUser/PentooLinux", "PenTest:S3/KaliLinux", "PenTest:S3/ParrotLinux", "PenTest:S3/PentooLinux",
        "Persistence:IAMUser/AnomalousBehavior",
        "Persistence:Kubernetes/AnomalousBehavior.WorkloadDeployed!ContainerWithSensitiveMount",
        "Persistence:Kubernetes/ContainerWithSensitiveMount", "Persistence:Kubernetes/MaliciousIPCaller",
        "Persistence:Kubernetes/MaliciousIPCaller.Custom", "Persistence:Kubernetes/SuccessfulAnonymousAccess",
        "Persistence:Kubernetes/TorIPCaller", "Persistence:Runtime/SuspiciousCommand",
        "Policy:IAMUser/RootCredentialUsage", "Policy:IAMUser/ShortTermRootCredentialUsage",
        "Policy:Kubernetes/AdminAccessToDefaultServiceAccount", "Policy:Kubernetes/AnonymousAccessGranted",
        "Policy:Kubernetes/ExposedDashboard", "Policy:Kubernetes/KubeflowDashboardExposed",
        "Policy:S3/AccountBlockPublicAccessDisabled", "Policy:S3/BucketAnonymousAccessGranted",
        "Policy:S3/BucketBlockPublicAccessDisabled", "Policy:S3/BucketPublicAccessGranted",
        "PrivilegeEscalation:IAMUser/AdministrativePermissions", "PrivilegeEscalation:IAMUser/AnomalousBehavior",
        "PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleBindingCreated",
        "PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleCreated",
        "PrivilegeEscalation:Kubernetes/AnomalousBehavior.WorkloadDeployed!ContainerWithSensitiveMount",
        "PrivilegeEscalation:Kubernetes/AnomalousBehavior.WorkloadDeployed!PrivilegedContainer",
        "PrivilegeEscalation:Kubernetes/PrivilegedContainer",
        "PrivilegeEscalation:Runtime/CGroupsReleaseAgentModified",
        "PrivilegeEscalation:Runtime/ContainerMountsHostDirectory", "PrivilegeEscalation:Runtime/DockerSocketAccessed",
        "PrivilegeEscalation:Runtime/ElevationToRoot", "PrivilegeEscalation:Runtime/RuncContainerEscape",
        "PrivilegeEscalation:Runtime/SuspiciousCommand", "PrivilegeEscalation:Runtime/UserfaultfdUsage",
        "Recon:EC2/PortProbeEMRUnprotectedPort", "Recon:EC2/PortProbeUnprotectedPort", "Recon:EC2/Portscan",
        "Recon:IAMUser/MaliciousIPCaller", "Recon:IAMUser/MaliciousIPCaller.Custom", "Recon:IAMUser/TorIPCaller",
        "S3Object:S3/MaliciousFile", "Stealth:IAMUser/CloudTrailLoggingDisabled",
        "Stealth:IAMUser/LoggingConfigurationModified", "Stealth:IAMUser/PasswordPolicyChange",
        "Stealth:S3/ServerAccessLoggingDisabled", "Trojan:EC2/BlackholeTraffic", "Trojan:EC2/BlackholeTraffic!DNS",
        "Trojan:EC2/DGADomainRequest.B", "Trojan:EC2/DGADomainRequest.C!DNS", "Trojan:EC2/DNSDataExfiltration",
        "Trojan:EC2/DriveBySourceTraffic!DNS", "Trojan:EC2/DropPoint", "Trojan:EC2/DropPoint!DNS",
        "Trojan:EC2/PhishingDomainRequest!DNS", "Trojan:Lambda/BlackholeTraffic", "Trojan:Lambda/DropPoint",
        "Trojan:Runtime/BlackholeTraffic", "Trojan:Runtime/BlackholeTraffic!DNS",
        "Trojan:Runtime/DGADomainRequest.C!DNS", "Trojan:Runtime/DriveBySourceTraffic!DNS", "Trojan:Runtime/DropPoint",
        "Trojan:Runtime/DropPoint!DNS", "Trojan:Runtime/PhishingDomainRequest!DNS",
        "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "UnauthorizedAccess:EC2/MetadataDNSRebind",
        "UnauthorizedAccess:EC2/RDPBruteForce", "UnauthorizedAccess:EC2/SSHBruteForce",
        "UnauthorizedAccess:EC2/TorClient", "UnauthorizedAccess:EC2/TorRelay",
        "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller", "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
        "UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.OutsideAWS",
        "UnauthorizedAccess:IAMUser/TorIPCaller", "UnauthorizedAccess:Lambda/MaliciousIPCaller.Custom",
        "UnauthorizedAccess:Lambda/TorClient", "UnauthorizedAccess:Lambda/TorRelay",
        "UnauthorizedAccess:Runtime/MetadataDNSRebind", "UnauthorizedAccess:Runtime/TorClient",
        "UnauthorizedAccess:Runtime/TorRelay", "UnauthorizedAccess:S3/MaliciousIPCaller.Custom",
        "UnauthorizedAccess:S3/TorIPCaller",
    ]

    /// A known type and its parts as ``Finding/parseType(_:)`` splits it.
    struct Entry: Sendable {
        let type: String
        let purpose: String
        let resourceKind: String
        let family: String
        let artifact: String?
    }

    /// Open addressing on a hash of the length and the first and last 8 bytes; probing compares whole names.
    /// Immutable after `init`.
    final class Table: Sendable {
        static let slotCount = 1024
        let slots: [Int16]
        let entries: [Entry]
        /// Every name's bytes, back to back; `starts[i]..<starts[i + 1]` is entry `i`.
        let bytes: [UInt8]
        let starts: [Int]

        init(_ names: [String]) {
            var slots = [Int16](repeating: -1, count: Table.slotCount)
            var entries: [Entry] = []
            var bytes: [UInt8] = []
            var starts = [0]
            for name in names {
                let parts = Finding.parseType(name)
                entries.append(
                    Entry(
                        type: name, purpose: parts.purpose, resourceKind: parts.resourceKind, family: parts.family,
                        artifact: parts.artifact))
                let utf8 = Array(name.utf8)
                bytes += utf8
                starts.append(bytes.count)
                guard utf8.count >= 8 else { continue }  // never looked up
                var slot = utf8.withUnsafeBufferPointer { Table.hash($0) }
                while slots[slot] >= 0 { slot = (slot + 1) & (Table.slotCount - 1) }
                slots[slot] = Int16(entries.count - 1)
            }
            self.slots = slots
            self.entries = entries
            self.bytes = bytes
            self.starts = starts
        }

        /// A slot for a name of at least 8 bytes.
        @inline(__always) static func hash(_ b: UnsafeBufferPointer<UInt8>) -> Int {
            let raw = UnsafeRawPointer(b.baseAddress!)
            let first = raw.loadUnaligned(as: UInt64.self)
            let last = raw.loadUnaligned(fromByteOffset: b.count - 8, as: UInt64.self)
            var h = (first &* 0x9E37_79B9_7F4A_7C15) ^ (last &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(b.count)
            h ^= h >> 29
            h = h &* 0xBF58_476D_1CE4_E5B9
            return Int(truncatingIfNeeded: h >> 54)
        }

        /// The index of the entry whose name is exactly `b`, if any.
        func lookup(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
            guard b.count >= 8 else { return nil }
            var slot = Table.hash(b)
            return bytes.withUnsafeBufferPointer { all in
                while true {
                    let index = Int(slots[slot])
                    if index < 0 { return nil }
                    let start = starts[index]
                    if starts[index + 1] - start == b.count
                        && memcmp(all.baseAddress! + start, b.baseAddress!, b.count) == 0
                    {
                        return index
                    }
                    slot = (slot + 1) & (Table.slotCount - 1)
                }
            }
        }
    }

    static let table = Table(names)

    /// The entry whose name is exactly `bytes` (UTF-8), if any.
    @inline(__always) static func lookup(_ bytes: UnsafeBufferPointer<UInt8>) -> Entry? {
        let table = KnownFindingTypes.table
        guard let index = table.lookup(bytes) else { return nil }
        return table.entries[index]
    }
}
