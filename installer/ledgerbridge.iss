; Inno Setup 6 script for LedgerBridge: a per-user install (no administrator rights needed).
;
; Built by installer/build.py, which passes the version and folders:
;   ISCC /DAppVersion=0.1.0 /DAppNumericVersion=0.1.0.0 /DBundleDir=dist\LedgerBridge /DOutputDir=dist
;        /DIconFile=build\ledgerbridge\LedgerBridge.ico installer\ledgerbridge.iss
;
; Names that other files must agree with (tests/test_installer_static.py checks them):
;   AppMutexName  = gui/win_mutex.py APP_MUTEX_NAME (the running app holds it; Setup waits for it to go)
;   RunValueName  = gui/autostart.py RUN_VALUE_NAME, with the same value data the app writes
;   AppDataFolder = sync/paths.py via platformdirs on Windows: %LOCALAPPDATA%\LedgerBridge (settings.toml,
;                   state.sqlite3) and %LOCALAPPDATA%\LedgerBridge\Logs
;   {app}\sdo     = connectors/sage50uk_sdo.py INSTALLED_FOLDER (python\ and sdo_helper\ inside), only when
;                   build.py passes SdoPythonDir / SdoHelperDir (LEDGERBRIDGE_SDO_PYTHON set)

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef AppNumericVersion
  #define AppNumericVersion "0.0.0.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\dist\LedgerBridge"
#endif
#ifndef OutputDir
  #define OutputDir "..\dist"
#endif
#ifndef IconFile
  #define IconFile "..\build\ledgerbridge\LedgerBridge.ico"
#endif

#define AppName "LedgerBridge"
#define AppExeName "LedgerBridge.exe"
#define AppMutexName "LedgerBridge-3F6C2A1E-8B4D-4E7A-9C52-6D1F0B7E4A93"
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"
#define RunValueName "LedgerBridge"
#define AppDataFolder "{localappdata}\LedgerBridge"
; AppId without Inno's brace escaping, for the uninstall key name in [Code] (a test checks both agree).
#define AppIdBare "{5C0E8A37-2F4B-4D19-A6E3-91B7C4D2F860}"

[Setup]
; Never change AppId: Windows and Inno use it to recognise upgrades and the uninstaller.
AppId={{5C0E8A37-2F4B-4D19-A6E3-91B7C4D2F860}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=LedgerBridge
VersionInfoVersion={#AppNumericVersion}
VersionInfoProductVersion={#AppNumericVersion}
VersionInfoDescription={#AppName} Setup
; Per user: installs to %LOCALAPPDATA%\Programs\LedgerBridge ({autopf} is {userpf} when not elevated).
PrivilegesRequired=lowest
DefaultDirName={autopf}\{#AppName}
UsePreviousAppDir=yes
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Qt 6 / PySide6 exist only for 64-bit Windows.
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
; Setup and the uninstaller refuse to go on while LedgerBridge runs (it holds this mutex), and the Restart
; Manager offers to close it.
AppMutex={#AppMutexName}
CloseApplications=yes
RestartApplications=no
OutputDir={#OutputDir}
OutputBaseFilename=LedgerBridge-{#AppVersion}-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
; Offered on a first install only: on an upgrade the app's own Settings > Start at login decides (the Run
; value is left as the user last set it, and the install folder does not change).
Name: "startatlogin"; Description: "Start LedgerBridge with Windows (in the notification area)"; GroupDescription: "When I sign in:"; Check: not IsUpgrade
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the whole program folder's bundled libraries, so no file of an older version lingers.
; Settings, state and logs are elsewhere ({#AppDataFolder}) and are never touched by an upgrade.
Type: filesandordirs; Name: "{app}\_internal"
Type: filesandordirs; Name: "{app}\sdo"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
#ifdef SdoPythonDir
; Sage 50 UK posting (docs/writing-sage.md): SDO is a 32-bit COM server, so its helper runs under a 32-bit
; embeddable Python with pywin32 (checked by installer/sdo_python.py), from the helper's own sources.
; connectors/sage50uk_sdo.py looks for both here: {app}\sdo\python\python.exe and {app}\sdo\sdo_helper.
Source: "{#SdoPythonDir}\*"; DestDir: "{app}\sdo\python"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "{#SdoHelperDir}\*.py"; DestDir: "{app}\sdo\sdo_helper"; Flags: ignoreversion
#endif

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Comment: "Keep your books and HaloPSA in step"
Name: "{autoprograms}\{#AppName} demo"; Filename: "{app}\{#AppExeName}"; Parameters: "--demo"; Comment: "Try LedgerBridge on a demo company and a local Halo"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon

[Registry]
; The same value gui/autostart.py writes when the user ticks "Start at login" in the app.
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "{#RunValueName}"; ValueData: """{app}\{#AppExeName}"" --minimized"; Flags: uninsdeletevalue; Tasks: startatlogin

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
var
  RemoveUserData: Boolean;

{ True when this user already has LedgerBridge installed (Inno's uninstall entry for our AppId exists). }
function IsUpgrade(): Boolean;
begin
  Result := RegKeyExists(HKEY_CURRENT_USER,
    'Software\Microsoft\Windows\CurrentVersion\Uninstall\{#AppIdBare}_is1');
end;

function UserDataFolder(): String;
begin
  Result := ExpandConstant('{#AppDataFolder}');
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  ResultCode: Integer;
begin
  if CurUninstallStep = usUninstall then
  begin
    { The app may have set the Run value itself (Settings > Start at login) without the installer task. }
    RegDeleteValue(HKEY_CURRENT_USER, '{#RunKey}', '{#RunValueName}');
    RemoveUserData := False;
    { A silent uninstall (scripts, upgrades by IT) always keeps the user's settings, state and logs. }
    if (not UninstallSilent) and DirExists(UserDataFolder()) then
      RemoveUserData := MsgBox(
        'Also remove your LedgerBridge settings, sync state and logs?' + #13#10 + #13#10 +
        UserDataFolder() + #13#10 + #13#10 +
        'Choose Yes only if you will not use LedgerBridge again on this computer: the sync state is what ' +
        'stops records being sent to Halo twice. Choose No to keep them for a later reinstall.',
        mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES;
    if RemoveUserData then
    begin
      { While the program is still there, remove its secrets from Windows Credential Manager. }
      Exec(ExpandConstant('{app}\{#AppExeName}'), 'secret delete halo.client_secret', '', SW_HIDE,
        ewWaitUntilTerminated, ResultCode);
      Exec(ExpandConstant('{app}\{#AppExeName}'), 'secret delete source.password', '', SW_HIDE,
        ewWaitUntilTerminated, ResultCode);
    end;
  end;
  if (CurUninstallStep = usPostUninstall) and RemoveUserData then
  begin
    if not DelTree(UserDataFolder(), True, True, True) then
      MsgBox('Some LedgerBridge files could not be removed. Delete this folder yourself: ' + UserDataFolder(),
        mbInformation, MB_OK);
  end;
end;
