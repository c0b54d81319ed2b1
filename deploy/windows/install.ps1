<#
.SYNOPSIS
  Installs siteguard as a Windows service on this node.

.DESCRIPTION
  Copies siteguard.exe, its DLLs and plugins\ to the install folder, creates
  the config from the example unless one exists, registers the service (with
  its Event Log source and restart-on-failure recovery actions) through
  `siteguard.exe install`, and sets the recovery actions again with sc.exe so
  that they hold even when the service was registered by an older version.
  Run it elevated. -Source is the folder with siteguard.exe; by default the
  current folder, this script's folder or the folder two levels up (a package
  keeps this script in deploy\windows), whichever holds siteguard.exe.
  Works in Windows PowerShell 5.1 and PowerShell 7. Idempotent: a second run
  updates the files and keeps the config.

.EXAMPLE
  .\install.ps1 -Start
.EXAMPLE
  .\install.ps1 -Account 'CONTOSO\siteguard-gmsa$' -DataDir 'D:\siteguard'
#>
[CmdletBinding()]
param(
    [string]$Source,
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
if (-not $Source) {
    $Source = @((Get-Location).Path, $PSScriptRoot, (Join-Path $PSScriptRoot '..\..')) |
        Where-Object { Test-Path (Join-Path $_ 'siteguard.exe') } | Select-Object -First 1
    if (-not $Source) { throw 'no siteguard.exe here nor beside this script: pass -Source' }
}
$exeSource = Join-Path $Source 'siteguard.exe'
if (-not (Test-Path $exeSource)) { throw "no siteguard.exe in $Source" }

# sc.exe with its arguments exactly as written: PowerShell drops an empty ''
# argument (5.1) or escapes embedded quotes (7.3 and later) when it calls a
# native program, and sc.exe needs a literal "" for an empty password.
function Invoke-Sc([string]$Arguments) {
    $p = Start-Process -FilePath sc.exe -ArgumentList $Arguments -NoNewWindow -Wait -PassThru
    if ($p.ExitCode -ne 0) { throw "sc.exe $Arguments failed with $($p.ExitCode)" }
}

# A running service holds its files: stop it before copying.
$existing = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($existing -and $existing.Status -ne 'Stopped') {
    Stop-Service -Name $ServiceName -Force
}

# 1. Files: the executable, the DLLs next to it, the plugins (not the test
#    programs a build folder also holds).
New-Item -ItemType Directory -Force -Path $InstallDir, $DataDir | Out-Null
Copy-Item -Path $exeSource, (Join-Path $Source '*.dll') -Destination $InstallDir -Force
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
icacls $DataDir /inheritance:r /grant:r '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-18:(OI)(CI)F' | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls could not restrict $DataDir" }
if ($Account) {
    icacls $DataDir /grant:r "${Account}:(OI)(CI)M" | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "icacls could not grant $Account access to $DataDir" }
}

& $exe check-config $config
if ($LASTEXITCODE -ne 0) { throw "the config $config is not valid (see above)" }

# 3. The service and its Event Log source: `install` registers both (the
#    source under the service's name, with siteguard.exe's message table).
if ($existing) {
    & $exe uninstall --name $ServiceName
    if ($LASTEXITCODE -ne 0) { throw "cannot remove the old $ServiceName service" }
}
& $exe install --name $ServiceName -c $config
if ($LASTEXITCODE -ne 0) { throw "siteguard.exe install failed" }
if (-not [Diagnostics.EventLog]::SourceExists($ServiceName)) {
    throw "siteguard.exe install did not register the Event Log source $ServiceName"
}

# 4. Recovery: restart after 5 s, 30 s, 60 s; the count resets after a day;
#    also when the service stops with an error exit code.
Invoke-Sc "failure `"$ServiceName`" reset= 86400 actions= restart/5000/restart/30000/restart/60000"
Invoke-Sc "failureflag `"$ServiceName`" 1"

if ($Account) {
    # A gMSA has no password: sc.exe takes the name with an empty one. The
    # account needs the "Log on as a service" right on this node (a GPO, or
    # Install-ADServiceAccount and the right granted by an administrator).
    Invoke-Sc "config `"$ServiceName`" obj= `"$Account`" password= `"`""
}
if ($Start) {
    Start-Service -Name $ServiceName
    Get-Service -Name $ServiceName
}
