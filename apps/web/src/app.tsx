import { useMemo } from "react";
import { createBrowserRouter, RouterProvider } from "react-router-dom";
import { AuthProvider, useAuth } from "./auth";
import { ProjectProvider } from "./project";
import { routes } from "./routes";
import { AppLayout } from "./shell/app-layout";
import { HomeRedirect } from "./shell/home-redirect";
import { LoginPage } from "./shell/login-page";
import { MorePage } from "./shell/more-page";
import { NotFoundPage } from "./shell/not-found-page";
import { RequirePermission } from "./shell/require-permission";
import { Loading, ToastProvider } from "./ui";

function SignedInApp() {
  const router = useMemo(
    () =>
      createBrowserRouter([
        {
          element: <AppLayout />,
          children: [
            { index: true, element: <HomeRedirect /> },
            ...routes.map((r) => ({
              path: r.path,
              element: <RequirePermission permission={r.permission}>{r.element}</RequirePermission>,
            })),
            { path: "/more", element: <MorePage /> },
            { path: "*", element: <NotFoundPage /> },
          ],
        },
      ]),
    [],
  );
  return (
    <ProjectProvider>
      <RouterProvider router={router} />
    </ProjectProvider>
  );
}

function Gate() {
  const { state } = useAuth();
  if (state.status === "loading") return <Loading label="Starting" />;
  if (state.status === "anonymous") return <LoginPage />;
  // keyed by user so nothing from a previous session (router state, caches) survives a sign-out
  return <SignedInApp key={state.user.id} />;
}

export function App() {
  return (
    <ToastProvider>
      <AuthProvider>
        <Gate />
      </AuthProvider>
    </ToastProvider>
  );
}
