<#
.SYNOPSIS
  Installs siteguard as a Windows service on this node.

.DESCRIPTION
  Copies siteguard.exe, its DLLs and plugins\ to the install folder, creates
  the config from the example unless one exists, registers the service (with
  its Event Log source and restart-on-failure recovery actions) through
  `siteguard.exe install`, and sets the recovery actions again with sc.exe so
  that they hold even when the service was registered by an older version.
  Run it elevated, from the folder that holds the Windows build (or pass
  -Source). Idempotent: a second run updates the files and keeps the config.

.EXAMPLE
  .\install.ps1 -Start
.EXAMPLE
  .\install.ps1 -Account 'CONTOSO\siteguard-gmsa$' -DataDir 'D:\siteguard'
#>
[CmdletBinding()]
param(
    [string]$Source = $PSScriptRoot,
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'siteguard'),
    [string]$DataDir = (Join-Path $env:ProgramData 'siteguard'),
    [string]$ServiceName = 'siteguard',
    # A group managed service account (DOMAIN\name$) with rights on the cluster's
    # WMI namespace; default LocalSystem.
    [string]$Account,
    [switch]$Start
)
$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal(
    [Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'install.ps1 must run elevated (as an administrator).'
}
$exeSource = Join-Path $Source 'siteguard.exe'
if (-not (Test-Path $exeSource)) { throw "no siteguard.exe in $Source" }

# A running service holds its files: stop it before copying.
$existing = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($existing -and $existing.Status -ne 'Stopped') {
    Stop-Service -Name $ServiceName -Force
}

# 1. Files: the executable, the DLLs next to it, the plugins.
New-Item -ItemType Directory -Force -Path $InstallDir, $DataDir | Out-Null
Copy-Item -Path (Join-Path $Source '*.exe'), (Join-Path $Source '*.dll') -Destination $InstallDir -Force
if (Test-Path (Join-Path $Source 'plugins')) {
    Copy-Item -Path (Join-Path $Source 'plugins') -Destination $InstallDir -Recurse -Force
}
$exe = Join-Path $InstallDir 'siteguard.exe'

# 2. The config, from the example when there is none. The data folder is the
#    service's working directory: relative paths in the config land there.
$config = Join-Path $DataDir 'siteguard.yaml'
if (-not (Test-Path $config)) {
    $example = @((Join-Path $Source 'example.yaml'), (Join-Path $Source 'config\example.yaml')) |
        Where-Object { Test-Path $_ } | Select-Object -First 1
    if (-not $example) { throw "no example.yaml in $Source to create $config from" }
    Copy-Item -Path $example -Destination $config
    Write-Host "created $config from the example: edit it, then start the service"
}
# Only administrators and SYSTEM (and the service account) may read it: it may hold credentials.
$acl = "icacls `"$DataDir`" /inheritance:r /grant:r *S-1-5-32-544:(OI)(CI)F *S-1-5-18:(OI)(CI)F"
cmd.exe /c $acl | Out-Null
if ($Account) { cmd.exe /c "icacls `"$DataDir`" /grant:r `"$Account`":(OI)(CI)M" | Out-Null }

& $exe check-config $config
if ($LASTEXITCODE -ne 0) { throw "the config $config is not valid (see above)" }

# 3. The service and its Event Log source (siteguard.exe carries the message table).
if ($existing) {
    & $exe uninstall --name $ServiceName
    if ($LASTEXITCODE -ne 0) { throw "cannot remove the old $ServiceName service" }
}
& $exe install --name $ServiceName -c $config
if ($LASTEXITCODE -ne 0) { throw "siteguard.exe install failed" }
if (-not [Diagnostics.EventLog]::SourceExists($ServiceName)) {
    New-EventLog -LogName Application -Source $ServiceName -MessageResourceFile $exe
}

# 4. Recovery: restart after 5 s, 30 s, 60 s; the count resets after a day;
#    also when the service stops with an error exit code.
sc.exe failure $ServiceName reset= 86400 actions= restart/5000/restart/30000/restart/60000 | Out-Null
sc.exe failureflag $ServiceName 1 | Out-Null

if ($Account) {
    # A gMSA has no password: sc.exe takes the name with an empty password.
    sc.exe config $ServiceName obj= $Account password= '' | Out-Null
}
if ($Start) {
    Start-Service -Name $ServiceName
    Get-Service -Name $ServiceName
}
