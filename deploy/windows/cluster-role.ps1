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
    3. adds the generic service role with the disk and, with -StaticAddress,
       a client access point, and sets the resource's restart policy.

.EXAMPLE
  .\cluster-role.ps1 -Disk 'Cluster Disk 3' -DataPath 'S:\siteguard'
#>
[CmdletBinding()]
param(
    [string]$RoleName = 'siteguard',
    [string]$ServiceName = 'siteguard',
    [Parameter(Mandatory = $true)][string]$Disk,
    # A folder on that disk, e.g. S:\siteguard.
    [Parameter(Mandatory = $true)][string]$DataPath,
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'siteguard'),
    # Optional client access point: the role's name with this address.
    [string[]]$StaticAddress
)
$ErrorActionPreference = 'Stop'
Import-Module FailoverClusters

$nodes = Get-ClusterNode | Where-Object { $_.State -eq 'Up' } | ForEach-Object { $_.Name }
if (-not $nodes) { throw 'no cluster node is up' }

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
& (Join-Path $InstallDir 'siteguard.exe') check-config $config
if ($LASTEXITCODE -ne 0) { throw "the config $config is not valid (see above)" }

# 2. Every node: the same service, reading the config on the role's disk,
#    started by the cluster only.
foreach ($node in $nodes) {
    Invoke-Command -ComputerName $node -ScriptBlock {
        param($exe, $name, $config)
        Stop-Service -Name $name -ErrorAction SilentlyContinue
        & $exe uninstall --name $name | Out-Null
        & $exe install --name $name -c $config
        if ($LASTEXITCODE -ne 0) { throw "siteguard.exe install failed on $env:COMPUTERNAME" }
        sc.exe config $name start= demand | Out-Null
        sc.exe failure $name reset= 0 actions= '""' | Out-Null
    } -ArgumentList (Join-Path $InstallDir 'siteguard.exe'), $ServiceName, $config
}

# 3. The role: the service, its disk, and a restart policy (restart on this
#    node up to 3 times in 15 minutes, then fail over to another node).
$role = @{ ServiceName = $ServiceName; Name = $RoleName; Storage = $Disk }
if ($StaticAddress) {
    # the client access point (a network name, the role's) gets this address
    $role.StaticAddress = $StaticAddress
}
Add-ClusterGenericServiceRole @role | Out-Null
$svc = Get-ClusterResource | Where-Object { $_.OwnerGroup.Name -eq $RoleName -and
    $_.ResourceType.Name -eq 'Generic Service' }
$svc.RestartAction = 2          # restart, then fail the role over
$svc.RestartThreshold = 3
$svc.RestartPeriod = 900000     # ms
$svc.RestartDelay = 5000        # ms
Start-ClusterGroup -Name $RoleName | Out-Null
Get-ClusterGroup -Name $RoleName | Get-ClusterResource
