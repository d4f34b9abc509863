// The console's UI kit: every page builds on these so the console looks and behaves as one.
export { Badge, type Tone } from "./badge";
export { Button, type ButtonProps, type ButtonVariant } from "./button";
export { ConfirmDialog, type ConfirmDialogProps } from "./confirm-dialog";
export { CopyButton, CopyField } from "./copy-button";
export { type Column, DataTable, type DataTableProps } from "./data-table";
export { Dialog, type DialogProps } from "./dialog";
export { Field, type FieldProps } from "./field";
export { Icon, type IconName } from "./icon";
export { Logo } from "./logo";
export { Card, Facts, Page, type PageProps } from "./page";
export { EmptyState, ErrorState, Loading } from "./states";
export { formatAgo, TimeAgo } from "./time-ago";
export { ToastProvider, useToast } from "./toast";
