/**
 * @hiedit/editor: the lifelong editor (validate, propose, apply all-or-nothing, journal, roll back), the methods
 * behind one registry, the dataset readers and the `hiedit` CLI commands.
 */
// The public API, named one by one: modules not listed here are internal and may change without notice.
export { PolicyEditor } from './methods/policy/editor';
export { policyFactory } from './methods/policy/factory';
export { HIEDIT, HIEDIT_GATE_LR, HIEDIT_GATE_PRIOR_WEIGHT, hieditAblation, hieditDefaults, hieditGateDefaults } from './methods/hiedit/settings';
export type { HieditSettings } from './methods/hiedit/settings';
export { hieditFactory } from './methods/hiedit';
export { HIEDIT_REFERENCE } from './methods/hiedit-reference/settings';
export type { HieditReferenceSettings } from './methods/hiedit-reference/settings';
export { hieditReferenceFactory } from './methods/hiedit-reference';
export { RLEDIT } from './methods/rledit/settings';
export type { RleditSettings } from './methods/rledit/settings';
export { rleditFactory } from './methods/rledit';
export { MEND } from './methods/mend/settings';
export type { MendSettings } from './methods/mend/settings';
export { mendFactory } from './methods/mend';
export { RANDOM_K } from './methods/random-k/settings';
export { randomKFactory } from './methods/random-k';
export { FIXED_K } from './methods/fixed-k/settings';
export { fixedKFactory } from './methods/fixed-k';
export { ALL_MODULES } from './methods/all/settings';
export { allModulesFactory } from './methods/all';
export { noopFactory } from './methods/noop';
export type { ResolvedNoopSettings } from './methods/noop/settings';
export { meritScale, shiftMerit } from './methods/policy/merit';
export { DEFAULT_FT } from './methods/ft/settings';
export type { FtSettings, ResolvedFtSettings } from './methods/ft/settings';
export { ftFactory } from './methods/ft';
export type {
  EditRecordInfo,
  JournalHeader,
  JournalRecordInfo,
  JournalRequest,
  ModelIdentity,
  ModuleShape,
  RollbackRecordInfo,
  StoredShift,
} from './journal/records';
export { EditJournal } from './journal/journal';
export type { JournalCreateOptions, JournalOpenOptions, JournalOpenStats, LocatedRecord } from './journal/journal';
export { DEFAULT_INDEX_EVERY, indexFileOf } from './journal/journalIndex';
export { storeShift } from './journal/shifts';
export { applyEditPack, exportEditPack, readEditPack, writeEditPack } from './journal/pack';
export type { EditPack, PackedEdit } from './journal/pack';
export { replayJournal } from './journal/replay';
export { defaultEditModules, journalHeaderFor, upperMiddleLayers } from './model';
export type { EditorModel, EditorModelConfig, EditorTokenizer, TupleTokenizer } from './model';
export { TupleTextError, tokenizeRequest, validateRequest } from './request';
export type {
  EditRequest,
  EditRequestInput,
  LocalityKind,
  LocalityPrompt,
  RequestSource,
  TokenizeRequestOptions,
} from './request';
export type {
  Editor,
  EditorFactory,
  EditorTrainOptions,
  EditorTrainResult,
  ResolveOptions,
  ResolvedSettings,
  ShiftProposal,
  TrainProgress,
} from './editors/types';
export { editorFactory, editorKinds, registerEditor } from './editors/registry';
export { createEditor } from './editors/create';
export { SETTINGS_VERSION } from './methods/schema';
export type { SettingsInput } from './methods/schema';
export { modelShapeInfo } from './methods/shapes';
export type { EditModuleShapeInfo, ModelShapeInfo } from './methods/shapes';
export { SMALL_MODEL_ANCHOR, sizeScaledStepDefaults } from './methods/policy/sizeDefaults';
export type { EditModuleShape, SizeAnchor } from './methods/policy/sizeDefaults';
export { policySettingsFunctions, withSizeDefaults } from './methods/policy/settings';
export type {
  CustomSelection,
  CustomSelectionInput,
  PolicyEditorSettings,
  PolicyMethod,
  PolicySettingsFunctions,
  ResolvedPolicySettings,
  ResolvedTrainerOptions,
} from './methods/policy/settings';
export { HIEDIT_KEY_PRECONDITIONER } from './methods/policy/machinery';
export type { MachineryInput, MachineryParts, MachineryPreset } from './methods/policy/machinery';
export type { ModuleSelection, SelectionInput, SelectionRule } from './methods/policy/selection';
export { EDITOR_JSON, loadEditorDir, readEditorDescriptor, saveEditorDir } from './editorDir';
export type { EditorDescriptor } from './editorDir';
export { LifelongEditor, openJournalFor } from './editor';
export type { EditReport, LifelongEditorOptions, ModuleReport } from './editor';
export { DatasetError, RecordReader } from './data/errors';
export { parseRecords } from './data/parse';
export type { RecordParser } from './data/parse';
export { parseZsre, parseZsreRecord } from './data/zsre';
export { parseCounterFact, parseCounterFactRecord } from './data/counterfact';
export { parseCounterFactRome, parseCounterFactRomeRecord } from './data/counterfactRome';
export { parseRequestRecord, parseRequests } from './data/requests';
export { detectFormat, loadDataset, parseDataset, readJsonFile, readRecordsFile } from './data/load';
export type { LoadDatasetOptions } from './data/load';
export { REQUEST_FORMATS, readEditRequests } from './data/records';
export type { ReadRequestsOptions, RequestFormat } from './data/records';
export type { DatasetFormat, LoadOptions, LoadResult, SkippedRecord } from './data/types';
export { createEditorCommands } from './commands/editorCommands';
export type { EditorCliApi } from './commands/editorCommands';
export { llmLoaderApi } from './commands/api';
export { serveCommand } from './serve/command';
export type { ServeCliApi } from './serve/command';
export { buildServeApp } from './serve/app';
export type { ServeAppOptions } from './serve/app';
export type { WriteQueue } from './serve/writeQueue';
export { ServeSession } from './serve/session';
export type { ServableModel, ServeSessionOptions } from './serve/session';
export type { Answer, ServedEditDetail, ServedEditReport, ServedJournalEdit, ServedModule } from './serve/wire';
export type { ErrorBody } from './serve/errors';
export { latencySummary, runServeLoad } from './serve/loadDriver';
export type { ServeLoadAnswer, ServeLoadPlan } from './serve/loadDriver';
