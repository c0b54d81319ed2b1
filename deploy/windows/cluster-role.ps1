<#
.SYNOPSIS
  Makes siteguard a Windows Server Failover Clustering (WSFC) generic service
  role, so that the cluster keeps exactly one instance running.

.DESCRIPTION
  siteguard must run once per site pair: two instances would both act on a
  site loss. As a generic service role, the cluster starts the service on the
  node that owns the role, moves it (with its disk) when that node fails, and
  keeps it stopped everywhere else.

  Before running this script, install siteguard on every node with
  install.ps1. This script then, from one node:
    1. puts the config and data on the role's cluster disk (DataPath), so the
       journal and outcomes move with the role;
    2. re-registers the service on every node with that config, startup type
       Manual and no local recovery actions (the cluster restarts it, not the
       service manager, or the two would fight);
    3. adds the generic service role with the disk, makes the service
       depend on the disk (a Generic Service has no required dependency, so
       without it the cluster may start the service before its config is
       there), and sets the resource's restart policy.

  Every node must be up: a node that is down would keep its own automatic
  start and, when it rejoins, run a second instance outside the cluster's
  control. The script refuses and names the nodes that are down; with
  -AllowDownNodes it goes on and prints, for each of them, what to run there
  before it rejoins.

  The service's logon account is kept: the account each node's service runs
  as (install.ps1 -Account, e.g. a gMSA) is read before the service is
  registered again and set again after, and it is granted access to
  DataPath; -Account sets one for every node instead.

  Add-ClusterGenericServiceRole gives the role a client access point on the
  cluster's client networks: a network with DHCP is always used, any other
  needs an address (-StaticAddress) or must be left out (-IgnoreNetwork,
  e.g. 10.0.2.0/24). siteguard itself needs no access point.
  Run it on a cluster node: the cmdlet does not run remotely without CredSSP.

.EXAMPLE
  .\cluster-role.ps1 -Disk 'Cluster Disk 3' -DataPath 'S:\siteguard'
.EXAMPLE
  .\cluster-role.ps1 -Disk 'Cluster Disk 3' -DataPath 'S:\siteguard' -IgnoreNetwork 10.0.2.0/24
#>
[CmdletBinding()]
param(
    [string]$RoleName = 'siteguard',
    [string]$ServiceName = 'siteguard',
    [Parameter(Mandatory = $true)][string]$Disk,
    # A folder on that disk, e.g. S:\siteguard.
    [Parameter(Mandatory = $true)][string]$DataPath,
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'siteguard'),
    # Client access point: the role's name with this address, one per static
    # client network; or leave those networks out with -IgnoreNetwork.
    [string[]]$StaticAddress,
    [string[]]$IgnoreNetwork,
    # The service's logon account on every node (a gMSA ends in $); default:
    # the account each node's service runs as now.
    [string]$Account,
    # Go on when nodes are down (see above).
    [switch]$AllowDownNodes
)
$ErrorActionPreference = 'Stop'
Import-Module FailoverClusters

$all = @(Get-ClusterNode)
$nodes = @($all | Where-Object { $_.State -eq 'Up' } | ForEach-Object { $_.Name })
$down = @($all | Where-Object { $_.State -ne 'Up' } | ForEach-Object { $_.Name })
if (-not $nodes) { throw 'no cluster node is up' }
if ($down -and -not $AllowDownNodes) {
    throw ("cluster node(s) not up: $($down -join ', '). Each keeps its own automatic start of " +
           "$ServiceName and would run a second instance when it rejoins. Bring them up and run " +
           "this again, or use -AllowDownNodes and follow what it prints for them.")
}

# The logon account of the service on each node that is up, read before it
# is registered again (install puts LocalSystem back).
$accounts = @{}
foreach ($node in $nodes) {
    $accounts[$node] = if ($Account) { $Account } else {
        Invoke-Command -ComputerName $node -ScriptBlock {
            param($name)
            $s = Get-CimInstance -ClassName Win32_Service -Filter "Name='$name'"
            if ($s -and $s.StartName -and $s.StartName -ne 'LocalSystem') { $s.StartName } else { '' }
        } -ArgumentList $ServiceName
    }
}

# 1. The disk must be online here to copy the config onto it.
$res = Get-ClusterResource -Name $Disk
if ($res.OwnerNode.Name -ne $env:COMPUTERNAME) {
    Move-ClusterGroup -Name $res.OwnerGroup.Name -Node $env:COMPUTERNAME | Out-Null
}
Start-ClusterResource -Name $Disk | Out-Null
New-Item -ItemType Directory -Force -Path $DataPath | Out-Null
$config = Join-Path $DataPath 'siteguard.yaml'
if (-not (Test-Path $config)) {
    Copy-Item -Path (Join-Path $env:ProgramData 'siteguard\siteguard.yaml') -Destination $config
}
# Only administrators and SYSTEM (and a service account given to install.ps1,
# to be granted again here) may read it: it may hold credentials.
icacls $DataPath /inheritance:r /grant:r '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-18:(OI)(CI)F' | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls could not restrict $DataPath" }
foreach ($acct in @($accounts.Values | Where-Object { $_ } | Sort-Object -Unique)) {
    icacls $DataPath /grant:r "${acct}:(OI)(CI)M" | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "icacls could not grant $acct access to $DataPath" }
}
& (Join-Path $InstallDir 'siteguard.exe') check-config $config
if ($LASTEXITCODE -ne 0) { throw "the config $config is not valid (see above)" }

# 2. Every node: the same service, reading the config on the role's disk,
#    started by the cluster only.
foreach ($node in $nodes) {
    Invoke-Command -ComputerName $node -ScriptBlock {
        param($exe, $name, $config, $acct)
        Stop-Service -Name $name -ErrorAction SilentlyContinue
        & $exe uninstall --name $name | Out-Null
        & $exe install --name $name -c $config
        if ($LASTEXITCODE -ne 0) { throw "siteguard.exe install failed on $env:COMPUTERNAME" }
        # sc.exe's arguments as written: an empty "" does not survive
        # PowerShell's native argument passing (dropped or escaped).
        $scArgs = @("config `"$name`" start= demand",
                    "failure `"$name`" reset= 0 actions= `"`"",
                    "failureflag `"$name`" 0")
        # The logon account as it was (a gMSA has no password: an empty one).
        if ($acct) { $scArgs += "config `"$name`" obj= `"$acct`" password= `"`"" }
        foreach ($a in $scArgs) {
            $p = Start-Process -FilePath sc.exe -ArgumentList $a -NoNewWindow -Wait -PassThru
            if ($p.ExitCode -ne 0) { throw "sc.exe $a failed on $env:COMPUTERNAME" }
        }
    } -ArgumentList (Join-Path $InstallDir 'siteguard.exe'), $ServiceName, $config, $accounts[$node]
}
foreach ($node in $down) {
    Write-Warning ("node $node is down and still starts $ServiceName by itself: before it " +
                   "rejoins the cluster, run there 'sc.exe config $ServiceName start= demand' " +
                   "(or keep it out of the network), then run this script again once it is up")
}

# 3. The role: the service, its disk, and a restart policy (restart on this
#    node up to 3 times in 15 minutes, then fail over to another node).
$role = @{ ServiceName = $ServiceName; Name = $RoleName; Storage = $Disk }
if ($StaticAddress) { $role.StaticAddress = $StaticAddress }
if ($IgnoreNetwork) { $role.IgnoreNetwork = $IgnoreNetwork }
Add-ClusterGenericServiceRole @role | Out-Null
$svc = @(Get-ClusterResource | Where-Object { $_.OwnerGroup.Name -eq $RoleName -and
    $_.ResourceType.Name -eq 'Generic Service' })
if ($svc.Count -ne 1) { throw "role $RoleName has $($svc.Count) Generic Service resources, not 1" }
$svc = $svc[0]
# Online after the disk, offline before it.
$deps = (Get-ClusterResourceDependency -Resource $svc.Name).DependencyExpression
if (-not "$deps".Contains("[$Disk]")) {   # the expression reads "([Cluster Disk 3])"
    Stop-ClusterResource -Name $svc.Name | Out-Null
    Add-ClusterResourceDependency -Resource $svc.Name -Provider $Disk | Out-Null
}
$svc.RestartAction = 2          # restart, then fail the role over
$svc.RestartThreshold = 3
$svc.RestartPeriod = 900000     # ms
$svc.RestartDelay = 5000        # ms
Start-ClusterGroup -Name $RoleName | Out-Null
Get-ClusterGroup -Name $RoleName | Get-ClusterResource
